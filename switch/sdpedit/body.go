package sdpedit

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
)

// Body is a message body that carries SDP: the body itself
// (application/sdp, or no Content-Type), or the application/sdp part of a
// multipart/mixed body (RFC 2046 5.1.3), as SIP-I and SIP-T send SDP with
// an ISUP part. The other parts are kept byte for byte, their headers
// too, so that a binary ISUP message crosses as it came.
type Body struct {
	multipart bool
	boundary  string
	pre, post []byte   // before the first delimiter, after the last
	parts     [][]byte // raw parts, headers and content
	sdp       int      // index of the SDP part
	sdpHead   []byte   // its headers and the blank line
	sdpBody   []byte
}

// ErrBadMultipart is a multipart body without a boundary or whose
// delimiters do not parse; it matches ErrMalformed, so the message is
// refused as one with bad SDP.
var ErrBadMultipart = fmt.Errorf("%w: multipart body without its delimiters", ErrMalformed)

// FindSDP returns the SDP of a body of Content-Type ct, nil when it has
// none (an empty body, another type, a multipart without an SDP part).
func FindSDP(ct string, body []byte) (*Body, error) {
	if len(body) == 0 {
		return nil, nil
	}
	mt, params, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "" || strings.EqualFold(mt, "application/sdp"):
		return &Body{sdp: -1, sdpBody: body}, nil
	case !strings.EqualFold(mt, "multipart/mixed"):
		return nil, nil
	}
	b := &Body{multipart: true, boundary: params["boundary"], sdp: -1}
	if b.boundary == "" {
		return nil, ErrBadMultipart
	}
	delim := []byte("--" + b.boundary)
	start := bytes.Index(body, delim)
	if start < 0 || (start > 0 && body[start-1] != '\n') {
		return nil, ErrBadMultipart
	}
	b.pre = body[:start]
	rest := body[start+len(delim):]
	for {
		if bytes.HasPrefix(rest, []byte("--")) {
			b.post = rest[2:]
			break
		}
		eol := bytes.IndexByte(rest, '\n')
		if eol < 0 {
			return nil, ErrBadMultipart
		}
		rest = rest[eol+1:]
		end := bytes.Index(rest, append([]byte("\n"), delim...))
		if end < 0 {
			return nil, ErrBadMultipart
		}
		part := rest[:end]
		rest = rest[end+1+len(delim):]
		part = bytes.TrimSuffix(part, []byte("\r"))
		b.parts = append(b.parts, part)
	}
	for i, p := range b.parts {
		if b.sdp < 0 && strings.EqualFold(partType(p), "application/sdp") {
			head, content := splitPart(p)
			b.sdp, b.sdpHead, b.sdpBody = i, head, content
		}
	}
	if b.sdp < 0 {
		return nil, nil
	}
	return b, nil
}

// splitPart splits a part at the blank line ending its headers.
func splitPart(p []byte) (head, content []byte) {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(p, []byte(sep)); i >= 0 {
			return p[:i+len(sep)], p[i+len(sep):]
		}
	}
	if bytes.HasPrefix(p, []byte("\r\n")) {
		return p[:2], p[2:] // no headers at all
	}
	return nil, p
}

// partType is the media type of a part's Content-Type, or text/plain
// (RFC 2046 5.1) when it has none.
func partType(p []byte) string {
	head, _ := splitPart(p)
	for _, l := range strings.Split(string(head), "\n") {
		name, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Content-Type") {
			mt, _, _ := strings.Cut(v, ";")
			return strings.TrimSpace(mt)
		}
	}
	return "text/plain"
}

// SDP is the SDP the body carries.
func (b *Body) SDP() []byte { return b.sdpBody }

// Multipart reports whether the SDP came in a multipart body.
func (b *Body) Multipart() bool { return b.multipart }

// With returns the whole body with sdp in place of its SDP.
func (b *Body) With(sdp []byte) []byte {
	if !b.multipart {
		return sdp
	}
	var out bytes.Buffer
	out.Write(b.pre)
	for i, p := range b.parts {
		out.WriteString("--" + b.boundary + "\r\n")
		if i == b.sdp {
			out.Write(b.sdpHead)
			out.Write(sdp)
		} else {
			out.Write(p)
		}
		out.WriteString("\r\n")
	}
	out.WriteString("--" + b.boundary + "--")
	out.Write(b.post)
	return out.Bytes()
}

// Keep drops the parts other than the SDP whose media type keep refuses.
func (b *Body) Keep(keep func(mediaType string) bool) {
	if !b.multipart {
		return
	}
	var parts [][]byte
	for i, p := range b.parts {
		if i == b.sdp {
			b.sdp = len(parts)
		} else if !keep(partType(p)) {
			continue
		}
		parts = append(parts, p)
	}
	b.parts = parts
}

// Single reports whether only the SDP part is left, so that the body can
// go as plain application/sdp.
func (b *Body) Single() bool { return !b.multipart || len(b.parts) == 1 }
