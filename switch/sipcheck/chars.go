package sipcheck

// Character classes of the RFC 3261 grammar, looked up by byte so that the scanners stay branch-light
// and allocation-free.
const (
	cToken uint8 = 1 << iota // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
	cWord                    // Call-ID word: token chars plus ( ) < > : \ DQUOTE / [ ] ? { }
	cURI                     // any character that may appear unescaped in a URI
	cHost                    // hostname / IPv4 characters (alphanum, "-", ".", "_" tolerated)
	cDigit                   // DIGIT
	cAlpha                   // ALPHA
	cHex                     // HEXDIG
)

var class = buildClasses()

func buildClasses() (t [256]uint8) {
	set := func(chars string, c uint8) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= c
		}
	}
	for b := 'a'; b <= 'z'; b++ {
		t[b] |= cToken | cWord | cURI | cHost | cAlpha
		t[b-'a'+'A'] |= cToken | cWord | cURI | cHost | cAlpha
	}
	for b := '0'; b <= '9'; b++ {
		t[b] |= cToken | cWord | cURI | cHost | cDigit | cHex
	}
	set("abcdefABCDEF", cHex)
	set("-.!%*_+`'~", cToken|cWord)
	set("()<>:\\\"/[]?{}", cWord)
	// unreserved marks, reserved characters, "%" of escapes, and the brackets of IPv6 literals
	set("-_.!~*'()", cURI)
	set(";/?:@&=+$,%[]", cURI)
	set("-._", cHost)
	return t
}

func isToken(b byte) bool { return class[b]&cToken != 0 }
func isDigit(b byte) bool { return class[b]&cDigit != 0 }

// isLWS reports linear white space as it appears raw in a header value: SP and HT, and the CR LF of
// a folded line (bare CR and LF never reach the value scanners: the line scanner rejects them).
func isLWS(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func skipLWS(v []byte, i int) int {
	for i < len(v) && isLWS(v[i]) {
		i++
	}
	return i
}

func skipToken(v []byte, i int) int {
	for i < len(v) && isToken(v[i]) {
		i++
	}
	return i
}

// eqFold compares an ASCII header name or keyword without allocating.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
