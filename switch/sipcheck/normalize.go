package sipcheck

import "bytes"

// Normalize rewrites the whitespace of an accepted datagram into the one form sipgo's parser reads
// correctly, without changing what the message means.
//
// sipgo's parser takes every byte between separators literally: "tag = 98asjd8" becomes a parameter
// named "tag " with the value " 98asjd8", LWS before a Via's ";" after a port loses every Via
// parameter, "SIP / 2.0 / UDP" leaves the transport empty, and "CSeq: 1  INVITE" yields the method
// " INVITE", which no transaction then matches. RFC 3261 25.1 makes the LWS around these separators
// (SEMI, EQUAL, COMMA, SLASH, COLON are SWS-padded) and every fold (7.3.1) insignificant, so
// Normalize removes it:
//
//   - every fold (CRLF followed by SP or HT, with the LWS around it) becomes one SP, in any header;
//   - in the headers whose grammar RFC 3261 and its extensions define from those separators (Via,
//     the address headers, Content-Type, Accept and the single-value-with-parameters headers), LWS
//     before ";" "=" "," and after ";" "=" is removed, outside quoted strings and <...>; so is LWS
//     around "/" in Via, Content-Type and Accept, and around ":" in Via's sent-by. LWS after ","
//     stays where sipgo trims it (before "<", a quoted display name or a via-parm), since
//     "<sip:p1>, <sip:p2>" is how nearly every peer writes a list; before an addr-spec it goes;
//   - the LWS between CSeq's number and method becomes one SP.
//
// The header names, the colons after them ("Via    :" is read correctly by sipgo, which trims the
// name), the start line and the body are copied unchanged, so Content-Length keeps its meaning.
//
// Normalize returns raw itself, without allocating, when there is nothing to change, which is the
// case for nearly every real message. It is meant for datagrams Datagram accepted; on anything else
// it never panics, and returns raw unchanged when the header section is not well framed.
func Normalize(raw []byte) []byte {
	e := edits{raw: raw}
	_, i, ok := crlfLine(raw, 0)
	if !ok {
		return raw
	}
	for !(i+1 < len(raw) && raw[i] == '\r' && raw[i+1] == '\n') {
		start := i
		end, next, ok := crlfLine(raw, i)
		folded := false
		for ok && next < len(raw) && (raw[next] == ' ' || raw[next] == '\t') {
			folded = true
			end, next, ok = crlfLine(raw, next)
		}
		if !ok {
			return raw
		}
		i = next
		n := skipToken(raw[:end], start)
		k := n
		for k < end && (raw[k] == ' ' || raw[k] == '\t') {
			k++
		}
		if n == start || k == end || raw[k] != ':' {
			continue // not a header line: Datagram rejects it, and there is nothing to say about it
		}
		g := grammarOf(raw[start:n])
		if g != nil || folded {
			e.value(g, k+1, end)
		}
	}
	return e.result()
}

// crlfLine is lineEnd for a line that must end in CRLF: it reports false when the line holds a bare
// CR or LF or has no end. It leaves the search to bytes.IndexByte, which is several times faster
// than a byte loop on the hot path.
func crlfLine(raw []byte, i int) (end, next int, ok bool) {
	j := bytes.IndexByte(raw[i:], '\n')
	if j < 1 || raw[i+j-1] != '\r' || bytes.IndexByte(raw[i:i+j-1], '\r') >= 0 {
		return 0, 0, false
	}
	return i + j - 1, i + j + 1, true
}

// separators says, for one header's grammar, which characters' surrounding LWS is insignificant.
type separators struct {
	before   string // LWS before these is removed
	after    string // LWS after these is removed
	collapse bool   // any other LWS becomes one SP (CSeq)
	// addrSpecs: LWS after "," is removed too when an addr-spec follows (neither "<" nor a quoted
	// display name): sipgo parses " sip:b@example.com" as a URI, rejects the SP in its scheme
	// and fails the whole message
	addrSpecs bool
}

var (
	// name-addr / addr-spec lists with generic-params (From, To, Contact, Route...)
	addressGrammar = &separators{before: ";=,", after: ";=", addrSpecs: true}
	// sent-protocol SLASHes, sent-by COLON, via-params and the COMMA between via-parms
	viaGrammar = &separators{before: ";=,/:", after: ";=/:"}
	// media-type SLASH and m-parameters; Accept adds a list of media-ranges
	mediaGrammar  = &separators{before: ";=/", after: ";=/"}
	acceptGrammar = &separators{before: ";=,/", after: ";=/"}
	// a token or number with generic-params (Session-Expires, Event, Content-Disposition...)
	paramGrammar = &separators{before: ";=", after: ";="}
	cseqGrammar  = &separators{collapse: true}
)

// grammarOf tells which separators the named header's grammar has, or nil for a header that is
// left as it is (free text such as Subject, unknown extensions, and headers without parameters).
func grammarOf(name []byte) *separators {
	switch len(name) {
	case 1:
		switch name[0] | 0x20 {
		case 'f', 't', 'm', 'r', 'b':
			return addressGrammar
		case 'v':
			return viaGrammar
		case 'c':
			return mediaGrammar
		case 'x', 'o':
			return paramGrammar
		}
		return nil
	}
	switch {
	case eqFold(name, "via"):
		return viaGrammar
	case eqFold(name, "from"), eqFold(name, "to"), eqFold(name, "contact"), eqFold(name, "route"),
		eqFold(name, "record-route"), eqFold(name, "refer-to"), eqFold(name, "referred-by"),
		eqFold(name, "reply-to"), eqFold(name, "p-asserted-identity"), eqFold(name, "p-preferred-identity"),
		eqFold(name, "diversion"), eqFold(name, "path"), eqFold(name, "service-route"):
		return addressGrammar
	case eqFold(name, "cseq"):
		return cseqGrammar
	case eqFold(name, "content-type"):
		return mediaGrammar
	case eqFold(name, "accept"):
		return acceptGrammar
	case eqFold(name, "session-expires"), eqFold(name, "min-se"), eqFold(name, "event"),
		eqFold(name, "subscription-state"), eqFold(name, "content-disposition"):
		return paramGrammar
	}
	return nil
}

// edits rewrites raw lazily: until the first change, the output is raw[:from] and nothing is
// allocated.
type edits struct {
	raw  []byte
	out  []byte
	from int // raw[:from] has been accounted for in out
}

// replace puts with in place of raw[i:j].
func (e *edits) replace(i, j int, with string) {
	if e.out == nil {
		e.out = make([]byte, 0, len(e.raw))
	}
	e.out = append(e.out, e.raw[e.from:i]...)
	e.out = append(e.out, with...)
	e.from = j
}

func (e *edits) result() []byte {
	if e.out == nil {
		return e.raw
	}
	return append(e.out, e.raw[e.from:]...)
}

// value normalises the header value raw[v0:v1], folds included. g is nil for a header whose
// grammar is unknown: only its folds are replaced.
func (e *edits) value(g *separators, v0, v1 int) {
	raw := e.raw
	quote, bracket := false, false
	for i := v0; i < v1; {
		for i < v1 && !special[raw[i]] {
			i++
		}
		if i == v1 {
			return
		}
		c := raw[i]
		if !isLWS(c) {
			switch {
			case quote && c == '\\' && i+1 < v1 && raw[i+1] != '\r':
				i++ // a quoted-pair: the escaped octet is not a delimiter
			case quote:
				quote = c != '"'
			case bracket:
				bracket = c != '>'
			case c == '"':
				quote = true
			case c == '<':
				bracket = true
			}
			i++
			continue
		}
		j := i
		fold := false
		for j < v1 && isLWS(raw[j]) {
			fold = fold || raw[j] == '\r'
			j++
		}
		switch {
		case i == v0:
			// LWS after the colon: sipgo trims it, and removing it would rewrite most headers
			if fold {
				e.replace(i, j, " ")
			}
		case j == v1:
			if fold {
				e.replace(i, j, "")
			}
		case g != nil && !quote && !bracket &&
			(indexByte(g.before, raw[j]) || indexByte(g.after, raw[i-1]) ||
				g.addrSpecs && raw[i-1] == ',' && raw[j] != '<' && raw[j] != '"'):
			e.replace(i, j, "")
		case fold:
			e.replace(i, j, " ")
		case g != nil && g.collapse && !quote && !bracket && (j-i != 1 || c != ' '):
			e.replace(i, j, " ")
		}
		i = j
	}
}

// special marks the octets that value must look at: LWS, and the delimiters of quoted strings and
// <...>; everything else is skipped in a tight loop, since it is nearly all of every value.
var special = func() (t [256]bool) {
	for _, c := range " \t\r\n\"\\<>" {
		t[c] = true
	}
	return t
}()

func indexByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
