package sipcheck

// Validators for the header values whose syntax matters before parsing: those sipgo parses (a
// failure there makes sipgo drop the whole datagram) and those a stateless reply must echo. Each takes
// the raw value, folds included, and never allocates.

// maxUint32 bounds every scalar sipgo parses with strconv.ParseUint(.., 32).
const maxUint32 = 1<<32 - 1

// digits parses 1*DIGIT surrounded by LWS. It returns the value, capped just above maxUint32 so
// that overlarge values are reported without overflow, and false when the value is not a number.
func digits(v []byte) (uint64, bool) {
	i := skipLWS(v, 0)
	start := i
	var n uint64
	for i < len(v) && isDigit(v[i]) {
		if n <= maxUint32 {
			n = n*10 + uint64(v[i]-'0')
		}
		i++
	}
	if i == start || skipLWS(v, i) != len(v) {
		return 0, false
	}
	return n, true
}

// cseq checks "1*DIGIT LWS Method" and returns the number and the method.
func cseq(v []byte) (num uint64, method []byte, ok bool) {
	i := skipLWS(v, 0)
	start := i
	for i < len(v) && isDigit(v[i]) {
		if num <= maxUint32 {
			num = num*10 + uint64(v[i]-'0')
		}
		i++
	}
	if i == start || i == len(v) || !isLWS(v[i]) {
		return 0, nil, false
	}
	i = skipLWS(v, i)
	m := i
	i = skipToken(v, i)
	if i == m || skipLWS(v, i) != len(v) {
		return 0, nil, false
	}
	return num, v[m:i], true
}

// callID checks word ["@" word].
func callID(v []byte) bool {
	i := skipLWS(v, 0)
	start, at := i, false
	for i < len(v) && (class[v[i]]&cWord != 0 || v[i] == '@') {
		if v[i] == '@' {
			if at || i == start || i+1 == len(v) || class[v[i+1]]&cWord == 0 {
				return false
			}
			at = true
		}
		i++
	}
	return i > start && skipLWS(v, i) == len(v)
}

// contentType checks m-type SLASH m-subtype *(SEMI m-parameter).
func contentType(v []byte) bool {
	i := skipLWS(v, 0)
	j := skipToken(v, i)
	if j == i {
		return false
	}
	i = skipLWS(v, j)
	if i == len(v) || v[i] != '/' {
		return false
	}
	i = skipLWS(v, i+1)
	j = skipToken(v, i)
	if j == i {
		return false
	}
	i, ok := params(v, j)
	return ok && i == len(v)
}

// params checks *(SEMI generic-param) from i and returns where it stopped (at a comma or the end).
func params(v []byte, i int) (int, bool) {
	for {
		i = skipLWS(v, i)
		if i == len(v) || v[i] == ',' {
			return i, true
		}
		if v[i] != ';' {
			return i, false
		}
		i = skipLWS(v, i+1)
		j := skipToken(v, i)
		if j == i {
			return j, false
		}
		i = skipLWS(v, j)
		if i < len(v) && v[i] == '=' {
			i = skipLWS(v, i+1)
			if i < len(v) && v[i] == '"' {
				var ok bool
				if i, ok = quoted(v, i); !ok {
					return i, false
				}
				continue
			}
			// gen-value = token / host / quoted-string; a host may be a bracketed IPv6 literal
			j = i
			for j < len(v) && (isToken(v[j]) || v[j] == ':' || v[j] == '[' || v[j] == ']') {
				j++
			}
			if j == i {
				return j, false
			}
			i = j
		}
	}
}

// quoted checks a quoted-string starting at v[i] == '"' and returns the index after it. A quoted-pair
// may escape any octet but CR and LF; other control characters must be escaped.
func quoted(v []byte, i int) (int, bool) {
	for i++; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 == len(v) || v[i+1] == '\r' || v[i+1] == '\n' {
				return i, false
			}
			i++
		case c < 0x20 && !isLWS(c), c == 0x7f:
			return i, false
		}
	}
	return i, false
}

// via checks a Via header value (one or more via-parms) and returns how many via-parms it holds.
func via(v []byte) (int, bool) {
	n := 0
	i := 0
	for {
		i = skipLWS(v, i)
		// sent-protocol = protocol-name SLASH protocol-version SLASH transport
		for part := 0; part < 3; part++ {
			j := skipToken(v, i)
			if j == i {
				return n, false
			}
			i = skipLWS(v, j)
			if part < 2 {
				if i == len(v) || v[i] != '/' {
					return n, false
				}
				i = skipLWS(v, i+1)
			}
		}
		if i == len(v) || !isLWS(v[i-1]) {
			return n, false
		}
		// sent-by = host [ COLON port ]
		j, ok := host(v, i)
		if !ok {
			return n, false
		}
		i = skipLWS(v, j)
		if i < len(v) && v[i] == ':' {
			i = skipLWS(v, i+1)
			if j, ok = port(v, i); !ok {
				return n, false
			}
			i = j
		}
		if i, ok = params(v, i); !ok {
			return n, false
		}
		n++
		if i == len(v) {
			return n, true
		}
		i++ // the comma before the next via-parm
	}
}

// host checks a hostname, IPv4 address or bracketed IPv6 reference at v[i].
func host(v []byte, i int) (int, bool) {
	if i < len(v) && v[i] == '[' {
		j := i + 1
		for j < len(v) && (class[v[j]]&cHex != 0 || v[j] == ':' || v[j] == '.') {
			j++
		}
		// sipgo looks for the closing bracket within 42 bytes of the opening one
		if j == i+1 || j == len(v) || v[j] != ']' || j-i > 41 {
			return j, false
		}
		return j + 1, true
	}
	j := i
	for j < len(v) && class[v[j]]&cHost != 0 {
		j++
	}
	return j, j > i
}

// port checks 1*DIGIT no larger than 65535.
func port(v []byte, i int) (int, bool) {
	n, j := 0, i
	for j < len(v) && isDigit(v[j]) && j-i < 6 {
		n = n*10 + int(v[j]-'0')
		j++
	}
	return j, j > i && n <= 65535
}
