package profile

import "strings"

// addr is a header value or Request-URI split the way SEMS's AmUriParser
// splits it. Every field is a substring of the original value, so parsing
// allocates nothing; only a display name with backslash escapes is copied.
type addr struct {
	ok        bool // the URI part parsed (SEMS: parse_uri returned true)
	display   string
	user      string
	host      string
	port      string
	params    string // URI parameters, without the leading ';'
	headers   string // URI headers, without the leading '?'
	hdrParams string // parameters of the header itself (after the URI), e.g. ";tag=1"
}

// URI-splitting states, named as in AmUriParser::parse_uri.
const (
	uS0 = iota
	uSPROT
	uSUHOST
	uSHOST
	uSHOSTWSP
	uSPORT
	uSPORTWSP
	uSHDR
	uSHDRWSP
	uSPARAM
	uSPARAMWSP
	uS6
)

// parseAddr splits v. The URI parts follow AmUriParser::parse_uri run over
// the whole value, quirks included (URI headers are expected before URI
// parameters, a "user:password@" ends the host at the ':'), because that is
// what SEMS's $fU, $rd, $aU... return and operators' profiles depend on it.
// The display name and the header parameters follow parse_contact, which
// SEMS uses for $fn and the tag.
func parseAddr(v string) addr {
	var a addr
	a.display = displayName(v)
	a.hdrParams = headerParams(v)

	st := uS0
	p1 := 0
	eq := 0
	const sipProt = "SIP:"
	for pos := 0; pos < len(v); pos++ {
		c := v[pos]
		switch st {
		case uS0:
			if c == '<' {
				st = uSPROT
				break
			}
			// SEMS matches "SIP:" as a case-insensitive subsequence, which
			// also accepts "sips:".
			if eq < 4 && upper(c) == sipProt[eq] {
				eq++
			}
			if eq == 4 {
				st, p1 = uSUHOST, pos
			}
		case uSPROT:
			if c == ':' {
				st, p1 = uSUHOST, pos
			}
		case uSUHOST:
			switch c {
			case '[':
				pos += skipIPv6(v[pos:])
			case '@':
				a.user = v[p1+1 : pos]
				st, p1 = uSHOST, pos
			case ':':
				a.host = v[p1+1 : pos]
				st, p1 = uSPORT, pos
			case '?':
				a.host = v[p1+1 : pos]
				st, p1 = uSHDR, pos
			case ';':
				a.host = v[p1+1 : pos]
				st, p1 = uSPARAM, pos
			case '>':
				a.host = v[p1+1 : pos]
				st, p1 = uS6, pos
			}
		case uSHOST:
			switch c {
			case '[':
				pos += skipIPv6(v[pos:])
			case ':':
				a.host = v[p1+1 : pos]
				st, p1 = uSPORT, pos
			case '?':
				a.host = v[p1+1 : pos]
				st, p1 = uSHDR, pos
			case ';':
				a.host = v[p1+1 : pos]
				st, p1 = uSPARAM, pos
			case '>':
				a.host = v[p1+1 : pos]
				st, p1 = uS6, pos
			case ' ', '\t':
				a.host = v[p1+1 : pos]
				st, p1 = uSHOSTWSP, pos
			}
		case uSHOSTWSP:
			switch c {
			case ':':
				st, p1 = uSPORT, pos
			case '?':
				st, p1 = uSHDR, pos
			case ';':
				st, p1 = uSPARAM, pos
			case '>':
				st, p1 = uS6, pos
			}
		case uSPORT:
			switch c {
			case ';':
				a.port = v[p1+1 : pos]
				st, p1 = uSPARAM, pos
			case '?':
				a.port = v[p1+1 : pos]
				st, p1 = uSHDR, pos
			case '>':
				a.port = v[p1+1 : pos]
				st, p1 = uS6, pos
			case ' ', '\t':
				a.port = v[p1+1 : pos]
				st, p1 = uSPORTWSP, pos
			}
		case uSPORTWSP:
			switch c {
			case '?':
				st, p1 = uSHDR, pos
			case ';':
				st, p1 = uSPARAM, pos
			case '>':
				st, p1 = uS6, pos
			}
		case uSHDR:
			switch c {
			case ';':
				a.headers = v[p1+1 : pos]
				st, p1 = uSPARAM, pos
			case '>':
				a.headers = v[p1+1 : pos]
				st, p1 = uS6, pos
			case ' ', '\t':
				a.headers = v[p1+1 : pos]
				st, p1 = uSHDRWSP, pos
			}
		case uSHDRWSP:
			switch c {
			case ';':
				st, p1 = uSPARAM, pos
			case '>':
				st, p1 = uS6, pos
			}
		case uSPARAM:
			switch c {
			case '>':
				a.params = v[p1+1 : pos]
				st, p1 = uS6, pos
			case ' ', '\t':
				a.params = v[p1+1 : pos]
				st, p1 = uSPARAMWSP, pos
			}
		case uSPARAMWSP:
			if c == '>' {
				st, p1 = uS6, pos
			}
		}
	}
	rest := ""
	if p1+1 <= len(v) {
		rest = v[p1+1:]
	}
	switch st {
	case uSUHOST, uSHOST:
		a.host = rest
	case uSPORT:
		a.port = rest
	case uSHDR:
		a.headers = rest
	case uSPARAM:
		a.params = rest
	case uS0, uSPROT:
		return addr{}
	}
	a.ok = true
	return a
}

// skipIPv6 returns how far the ']' closing an IPv6 reference is from its
// '[' (0 when unclosed). SEMS's parser has no such step and splits
// [2001:db8::1] at its first colon; Tollgate keeps the reference whole so
// that $rh and $rp work on IPv6 networks.
func skipIPv6(s string) int {
	if i := strings.IndexByte(s, ']'); i > 0 {
		return i
	}
	return 0
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}

// displayName returns the display name of a name-addr as parse_contact
// does: spaces trimmed, surrounding quotes removed and \" \\ unescaped;
// empty for an addr-spec.
func displayName(v string) string {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if i == len(v) {
		return ""
	}
	if v[i] == '"' {
		start := i
		escaped := false
		for i++; i < len(v); i++ {
			switch {
			case escaped:
				escaped = false
			case v[i] == '\\':
				escaped = true
			case v[i] == '"':
				return unescapeQuoted(v[start+1 : i])
			}
		}
		return "" // unclosed quote: SEMS fails the whole parse
	}
	for j := i; j < len(v); j++ {
		switch v[j] {
		case '<':
			return strings.TrimRight(v[i:j], " \t")
		case '@':
			return "" // an addr-spec, not a name-addr
		}
	}
	return ""
}

func unescapeQuoted(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// headerParams returns what follows the URI of a header value (";tag=..."),
// skipping a quoted display name and anything inside <...>, as skip_uri does.
func headerParams(v string) string {
	quoted, angle := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case !angle && (c == ';' || c == ','):
			if c == ',' {
				return ""
			}
			end := strings.IndexByte(v[i:], ',')
			if end < 0 {
				return v[i:]
			}
			return v[i : i+end]
		}
	}
	return ""
}

// param returns the value of the parameter name in a ';'-separated list
// (no leading ';' needed). Names compare case-insensitively and the last
// occurrence wins, as in replaceParsedParam's loop over parse_gen_params.
func param(list, name string) (string, bool) {
	var val string
	found := false
	for list != "" {
		var item string
		if i := strings.IndexByte(list, ';'); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, ""
		}
		k, v := item, ""
		if i := strings.IndexByte(item, '='); i >= 0 {
			k, v = item[:i], item[i+1:]
		}
		if strings.EqualFold(strings.TrimSpace(k), name) {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

// appParam reads key name from a P-App-Param value the way SEMS's
// get_header_keyvalue does: comma-separated parts, each a ';' list of
// key=value with case-insensitive keys, quoted stretches skipped, and a
// value quoted as a whole returned without its quotes.
func appParam(hdr, name string) string {
	if name == "" {
		return ""
	}
	for hdr != "" {
		var part string
		if i := strings.Index(hdr, ","); i >= 0 {
			part, hdr = hdr[:i], hdr[i+1:]
		} else {
			part, hdr = hdr, ""
		}
		if part == "" {
			continue
		}
		if v := appParamSingle(part, name); v != "" {
			return v
		}
	}
	return ""
}

// States of get_header_keyvalue_single.
const (
	stFindBgn = iota
	stFBEsc
	stBeginKey
	stCmpKey
	stFindEq
	stFindVal
	stValue
	stValEsc
)

func appParamSingle(h, name string) string {
	p, kBegin, corr, vBegin, vEnd := 0, 0, 0, 0, 0
	haveBegin := false
	last, esc := byte(' '), byte(' ')
	st := stBeginKey
	for p < len(h) && vEnd == 0 {
		c := h[p]
		switch st {
		case stFindBgn:
			switch c {
			case '"', '\'':
				st, esc = stFBEsc, c
			case ';':
				st = stBeginKey
			}
		case stFBEsc:
			if c == esc && last != '\\' {
				st = stFindBgn
			}
		case stBeginKey:
			switch c {
			case ' ', '\t', ';':
			default:
				if lower(c) == lower(name[0]) {
					st = stCmpKey
					if len(name) == 1 {
						st = stFindEq
					}
					kBegin, corr = p, 1
				} else {
					st = stFindBgn
				}
			}
		case stCmpKey:
			if lower(c) == lower(name[corr]) {
				corr++
				if corr == len(name) {
					st = stFindEq
				}
			} else {
				st, corr, p = stFindBgn, 0, kBegin
			}
		case stFindEq:
			switch c {
			case ' ', '\t':
			case '=':
				st = stFindVal
			default:
				st, corr, p = stFindBgn, 0, kBegin
			}
		case stFindVal:
			switch c {
			case ' ', '\t':
			case '"', '\'':
				st, esc, vBegin, haveBegin = stValEsc, c, p, true
			default:
				st, vBegin, haveBegin = stValue, p, true
			}
		case stValue:
			switch c {
			case '"', '\'':
				st, esc = stValEsc, c
			case ';':
				vEnd = p
			}
		case stValEsc:
			if c == esc && last != '\\' {
				st = stValue
			}
		}
		p++
		last = c
	}
	if vEnd == 0 && (st == stValue || st == stValEsc) {
		vEnd = p
	}
	// SEMS tests v_begin for non-zero, which a value at offset 0 can never
	// be (a key precedes it), so haveBegin is the same test made explicit.
	if !haveBegin || vEnd == 0 {
		return ""
	}
	v := h[vBegin:vEnd]
	if len(v) > 1 && v[0] == v[len(v)-1] && (v[0] == '"' || v[0] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}
