package sipcheck

import (
	"hash/fnv"
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// statelessReply builds the response RFC 3261 8.2.6 describes for a rejected request: every Via in
// order, From, To (with a To tag added when it has none), Call-ID and CSeq copied from the request.
// It returns nil when the request lacks one of them, or when the result would not parse: a reply the
// sender cannot parse helps nobody, and an echoed header that was itself the defect (RFC 4475
// quotbal, badaspec) cannot be repaired without breaking the sender's response matching.
func statelessReply(raw []byte, d defect) []byte {
	var vias, from, to, callID, cseq [][]byte
	_, i, _ := lineEnd(raw, 0)
	for i+1 < len(raw) && !(raw[i] == '\r' && raw[i+1] == '\n') {
		start := i
		_, next, state := lineEnd(raw, i)
		for state == lineOK && next < len(raw) && (raw[next] == ' ' || raw[next] == '\t') {
			_, next, state = lineEnd(raw, next)
		}
		if state != lineOK {
			break
		}
		h := raw[start:next]
		n := skipToken(h, 0)
		k := n
		for k < len(h) && (h[k] == ' ' || h[k] == '\t') {
			k++
		}
		if k < len(h) && h[k] == ':' {
			switch name := h[:n]; {
			case eqFold(name, "via") || eqFold(name, "v"):
				vias = append(vias, h)
			case eqFold(name, "from") || eqFold(name, "f"):
				from = append(from, h)
			case eqFold(name, "to") || eqFold(name, "t"):
				to = append(to, h)
			case eqFold(name, "call-id") || eqFold(name, "i"):
				callID = append(callID, h)
			case eqFold(name, "cseq"):
				cseq = append(cseq, h)
			}
		}
		i = next
	}
	if len(vias) == 0 || len(from) != 1 || len(to) != 1 || len(callID) != 1 || len(cseq) != 1 {
		return nil
	}
	size := 64 + len(d.reason) + len(from[0]) + len(to[0]) + len(callID[0]) + len(cseq[0])
	for _, v := range vias {
		size += len(v)
	}
	out := make([]byte, 0, size)
	out = append(out, "SIP/2.0 "...)
	out = strconv.AppendInt(out, int64(d.code), 10)
	out = append(out, ' ')
	out = append(out, d.reason...)
	out = append(out, "\r\n"...)
	for _, v := range vias {
		out = append(out, v...)
	}
	out = append(out, from[0]...)
	toLine := to[0][:len(to[0])-2]
	out = append(out, toLine...)
	if !hasTag(toLine) {
		// RFC 3261 8.2.7: a stateless UAS derives the tag from the request, so that a retransmission
		// gets the same one
		hash := fnv.New64a()
		hash.Write(callID[0])
		hash.Write(from[0])
		hash.Write(cseq[0])
		hash.Write(vias[0])
		out = append(out, ";tag="...)
		out = strconv.AppendUint(out, hash.Sum64(), 36)
	}
	out = append(out, "\r\n"...)
	out = append(out, callID[0]...)
	out = append(out, cseq[0]...)
	out = append(out, "Content-Length: 0\r\n\r\n"...)
	if !parsesAsReply(out) {
		return nil
	}
	return out
}

// hasTag reports whether a To header line carries a tag parameter outside its quoted display name
// and angle brackets.
func hasTag(h []byte) bool {
	inQuote, inBracket := false, false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inBracket = true
		case c == '>':
			inBracket = false
		case c == ';' && !inBracket:
			j := skipLWS(h, i+1)
			k := skipToken(h, j)
			if eqFold(h[j:k], "tag") && skipLWS(h, k) < len(h) && h[skipLWS(h, k)] == '=' {
				return true
			}
		}
	}
	return false
}

// parsesAsReply checks the reply with the parser the rest of the switch, and many peers, use.
func parsesAsReply(out []byte) bool {
	msg, err := sip.ParseMessage(out)
	if err != nil {
		return false
	}
	res, ok := msg.(*sip.Response)
	return ok && res.Via() != nil && res.From() != nil && res.To() != nil && res.CallID() != nil && res.CSeq() != nil
}
