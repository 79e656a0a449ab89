package sipcheck

// uriVerdict says what is wrong with a URI, from the most to the least fatal.
type uriVerdict uint8

const (
	uriOK          uriVerdict = iota
	uriBad                    // not a URI: sipgo cannot parse it and neither can anyone else
	uriOddScheme              // a syntactically valid scheme that sipgo's parser rejects (digits, "+", "-", ".")
	uriHeaders                // a SIP URI with a headers component, where RFC 3261 forbids one
	uriOtherScheme            // well-formed, scheme other than sip, sips and tel
)

// uri checks an absolute URI (no surrounding LWS). sip and sips URIs get the hostport checks that
// sipgo's parser makes (a bad port or IPv6 literal fails the whole message there).
func uri(u []byte) uriVerdict {
	if len(u) < 3 || class[u[0]]&cAlpha == 0 {
		return uriBad
	}
	odd := false
	i := 1
	for ; i < len(u) && u[i] != ':'; i++ {
		switch c := u[i]; {
		case class[c]&cAlpha != 0:
		case isDigit(c) || c == '+' || c == '-' || c == '.':
			odd = true
		default:
			return uriBad
		}
	}
	if i == len(u) {
		return uriBad
	}
	scheme, rest := u[:i], u[i+1:]
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		if class[c]&cURI == 0 {
			return uriBad
		}
		if c == '%' && (j+2 >= len(rest) || class[rest[j+1]]&cHex == 0 || class[rest[j+2]]&cHex == 0) {
			return uriBad
		}
	}
	switch {
	case odd:
		return uriOddScheme
	case eqFold(scheme, "sip"), eqFold(scheme, "sips"):
		return sipURI(rest)
	case eqFold(scheme, "tel"):
		if len(rest) == 0 {
			return uriBad
		}
		return uriOK
	case len(rest) == 0:
		return uriBad
	}
	return uriOtherScheme
}

// sipURI checks the part of a sip/sips URI after the colon.
func sipURI(s []byte) uriVerdict {
	if len(s) >= 2 && s[0] == '/' && s[1] == '/' {
		s = s[2:]
	}
	// userinfo never holds an unescaped "@" (nor do parameters or headers), so the first one ends it
	for j := 0; j < len(s); j++ {
		if s[j] == '[' {
			break
		}
		if s[j] == '@' {
			s = s[j+1:]
			break
		}
	}
	i, ok := host(s, 0)
	if !ok {
		return uriBad
	}
	if i < len(s) && s[i] == ':' {
		if i, ok = port(s, i+1); !ok {
			return uriBad
		}
	}
	if i < len(s) && s[i] != ';' && s[i] != '?' {
		return uriBad
	}
	for ; i < len(s); i++ {
		if s[i] == '?' {
			return uriHeaders
		}
	}
	return uriOK
}

// addrForm tells address which header it is checking.
type addrForm uint8

const (
	addrSingle  addrForm = iota // From, To, Referred-By: exactly one address
	addrList                    // Route, Record-Route, Refer-To: comma-separated addresses
	addrContact                 // Contact: a list, or "*"
)

// address checks a From/To/Contact/Route-style value: (name-addr / addr-spec) *(SEMI param),
// repeated with commas for list forms.
func address(v []byte, form addrForm) bool {
	if form == addrContact {
		i := skipLWS(v, 0)
		if i < len(v) && v[i] == '*' && skipLWS(v, i+1) == len(v) {
			return true
		}
	}
	i := 0
	for {
		var ok bool
		if i, ok = oneAddress(v, i, form != addrSingle); !ok {
			return false
		}
		if i == len(v) {
			return true
		}
		if form == addrSingle {
			return false
		}
		i++ // the comma
	}
}

// oneAddress checks one address with its parameters from v[i] and returns where it ended: at the
// end of v, or at a comma when list is set.
func oneAddress(v []byte, i int, list bool) (int, bool) {
	i = skipLWS(v, i)
	if i == len(v) {
		return i, false
	}
	var ok bool
	if v[i] == '"' {
		if i, ok = quoted(v, i); !ok {
			return i, false
		}
		i = skipLWS(v, i)
		if i == len(v) || v[i] != '<' {
			return i, false
		}
	} else {
		// display-name = *(token LWS); UTF-8 is tolerated there because real phones send it.
		// Stopping at ":" means there was no display name: this is an addr-spec's scheme.
		j, spaced := i, false
		for j < len(v) && (isToken(v[j]) || v[j] >= 0x80 || isLWS(v[j])) {
			spaced = spaced || isLWS(v[j])
			j++
		}
		switch {
		case j < len(v) && v[j] == '<':
			i = j
		case j < len(v) && v[j] == ':' && !spaced:
			// addr-spec: it ends at LWS, ";" or ","; "?" and "," need the <> form (RFC 3261 20)
			k := j
			for k < len(v) && !isLWS(v[k]) && v[k] != ';' && v[k] != ',' {
				if v[k] == '?' {
					return k, false
				}
				k++
			}
			if verdict := uri(v[i:k]); verdict == uriBad || verdict == uriOddScheme {
				return k, false
			}
			return addrParams(v, k, list)
		default:
			return j, false
		}
	}
	// name-addr: LAQUOT addr-spec RAQUOT, no LWS inside the brackets
	end := i + 1
	for end < len(v) && v[end] != '>' {
		end++
	}
	if end == len(v) {
		return end, false
	}
	if verdict := uri(v[i+1 : end]); verdict == uriBad || verdict == uriOddScheme {
		return end, false
	}
	return addrParams(v, end+1, list)
}

func addrParams(v []byte, i int, list bool) (int, bool) {
	i, ok := params(v, i)
	if !ok || (i < len(v) && !list) {
		return i, false
	}
	return i, true
}
