package aaa

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

const maLen = 16 // Message-Authenticator value length

// encodeRequest marshals p for one server: a Message-Authenticator first in
// every request (BlastRADIUS, CVE-2024-3596), User-Password — held in clear
// in p — hidden with this server's secret, and the request authenticator
// the code demands (random, or the MD5 of an Accounting-Request).
func encodeRequest(p *radius.Packet, id byte, secret []byte) ([]byte, error) {
	q := &radius.Packet{Code: p.Code, Identifier: id, Secret: secret}
	if p.Code != radius.CodeAccountingRequest {
		_, _ = rand.Read(q.Authenticator[:])
	}
	q.Attributes = make(radius.Attributes, 0, len(p.Attributes)+1)
	q.Attributes.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, maLen))
	for _, avp := range p.Attributes {
		switch avp.Type {
		case rfc2869.MessageAuthenticator_Type:
			continue
		case rfc2865.UserPassword_Type:
			hidden, err := radius.NewUserPassword(avp.Attribute, secret, q.Authenticator[:])
			if err != nil {
				return nil, fmt.Errorf("radius: User-Password: %w", err)
			}
			q.Attributes.Add(avp.Type, hidden)
		default:
			q.Attributes = append(q.Attributes, avp)
		}
	}
	b, err := q.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radius: encode %v: %w", p.Code, err)
	}
	// The Message-Authenticator is the first attribute: bytes 22..38. For an
	// Accounting-Request it is computed over the zero authenticator first,
	// then the request authenticator over the packet that includes it.
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	mac.Sum(b[22:22])
	if p.Code == radius.CodeAccountingRequest {
		h := md5.New()
		h.Write(b)
		h.Write(secret)
		h.Sum(b[4:4])
	}
	return b, nil
}

// expectedReplies lists the reply codes each request code may get.
var expectedReplies = map[radius.Code][]radius.Code{
	radius.CodeAccessRequest:     {radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge},
	radius.CodeAccountingRequest: {radius.CodeAccountingResponse},
	radius.CodeStatusServer:      {radius.CodeAccessAccept, radius.CodeAccountingResponse},
}

// DecodeReply checks reply against the request it answers and parses it.
// Every way a reply can be wrong is an error naming the reason: bad length,
// identifier, code, response authenticator, truncated attributes, a
// Message-Authenticator that does not verify (or is missing when required),
// and Cisco VSAs that are malformed or hold garbage. It never panics.
func DecodeReply(reply, request, secret []byte, requireMA bool) (*radius.Packet, error) {
	if len(request) < 20 {
		return nil, fmt.Errorf("radius: request of %d bytes", len(request))
	}
	if len(reply) < 20 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(reply))
	}
	n := int(binary.BigEndian.Uint16(reply[2:4]))
	if n < 20 || n > radius.MaxPacketLength || n > len(reply) {
		return nil, fmt.Errorf("%w: length field %d, datagram %d bytes", ErrMalformed, n, len(reply))
	}
	reply = reply[:n] // RFC 2865: octets beyond Length are padding
	if reply[1] != request[1] {
		return nil, fmt.Errorf("%w: identifier %d answers no request (want %d)", ErrMalformed, reply[1], request[1])
	}
	code := radius.Code(reply[0])
	if !codeAnswers(code, radius.Code(request[0])) {
		return nil, fmt.Errorf("%w: %v to %v", ErrUnexpectedCode, code, radius.Code(request[0]))
	}
	h := md5.New()
	h.Write(reply[:4])
	h.Write(request[4:20])
	h.Write(reply[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), reply[4:20]) {
		return nil, fmt.Errorf("%w (wrong secret or forged reply)", ErrBadAuthenticator)
	}
	p, err := radius.Parse(reply, secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkReplyMA(reply, request, secret, requireMA); err != nil {
		return nil, err
	}
	if err := validateVSAs(p.Attributes); err != nil {
		return nil, err
	}
	return p, nil
}

func codeAnswers(reply, request radius.Code) bool {
	for _, c := range expectedReplies[request] {
		if c == reply {
			return true
		}
	}
	return false
}

// checkReplyMA verifies a reply's Message-Authenticator: HMAC-MD5 over the
// reply with the request authenticator in the header and the attribute
// zeroed. reply has already been parsed, so the attribute walk is safe.
func checkReplyMA(reply, request, secret []byte, require bool) error {
	off := -1
	for i := 20; i+2 <= len(reply); i += int(reply[i+1]) {
		if reply[i] == byte(rfc2869.MessageAuthenticator_Type) {
			if int(reply[i+1]) != 2+maLen {
				return fmt.Errorf("%w: length %d", ErrBadMsgAuthenticator, reply[i+1])
			}
			off = i + 2
			break
		}
	}
	if off < 0 {
		if require {
			return ErrNoMsgAuthenticator
		}
		return nil
	}
	b := make([]byte, len(reply))
	copy(b, reply)
	copy(b[4:20], request[4:20])
	clear(b[off : off+maLen])
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	if !hmac.Equal(mac.Sum(nil), reply[off:off+maLen]) {
		return ErrBadMsgAuthenticator
	}
	return nil
}
