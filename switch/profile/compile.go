package profile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is a pattern that does not compile, with where: the profile and
// option when the caller named them, and the 1-based column (in
// characters) of the offending '$' or bracket.
type Error struct {
	Profile string
	Option  string
	Pattern string
	Column  int
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Profile != "" {
		fmt.Fprintf(&b, "profile %q: ", e.Profile)
	}
	if e.Option != "" {
		fmt.Fprintf(&b, "%s: ", e.Option)
	}
	fmt.Fprintf(&b, "column %d: %s (in %q)", e.Column, e.Msg, e.Pattern)
	return b.String()
}

// Compile compiles a pattern that uses no regex map.
func Compile(src string) (*Pattern, error) {
	return CompileOption("", "", src, nil)
}

// CompileOption compiles the pattern of one profile option; profile and
// option only label errors. $M(...) may name only maps in maps (nil: none),
// which are bound now: reloading a map means rebuilding the profile set.
func CompileOption(profile, option, src string, maps *MapSet) (*Pattern, error) {
	c := compiler{src: src, maps: maps}
	p, err := c.compile(0, len(src))
	if err != nil {
		err.Profile, err.Option = profile, option
		return nil, err
	}
	return p, nil
}

type compiler struct {
	src  string
	maps *MapSet
}

func (c *compiler) errAt(off int, format string, args ...any) *Error {
	return &Error{
		Pattern: c.src,
		Column:  utf8.RuneCountInString(c.src[:off]) + 1,
		Msg:     fmt.Sprintf(format, args...),
	}
}

// compile parses src[start:end], the whole pattern or the inside of a
// $M(...), $_X(...) or $#(...). The scan is replaceParameters' own: a
// backslash escapes the next character, '$' starts a replacement whose
// letters decide how much follows.
func (c *compiler) compile(start, end int) (*Pattern, *Error) {
	s := c.src
	p := &Pattern{src: s[start:end]}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			p.nodes = append(p.nodes, node{kind: kLit, arg: string(lit)})
			lit = lit[:0]
		}
	}
	at := func(i int) byte { // the byte at i, or 0 past the end
		if i < end {
			return s[i]
		}
		return 0
	}
	for i := start; i < end; {
		switch s[i] {
		case '\\':
			if i == end-1 { // a lone backslash at the end stays
				lit = append(lit, '\\')
				i++
				continue
			}
			switch e := s[i+1]; e {
			case 'r':
				lit = append(lit, '\r')
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			default:
				lit = append(lit, e)
			}
			i += 2
		case '$':
			n, next, err := c.replacement(i, end, at)
			if err != nil {
				return nil, err
			}
			flush()
			p.nodes = append(p.nodes, n)
			i = next
		default:
			lit = append(lit, s[i])
			i++
		}
	}
	flush()
	return p, nil
}

// uriParts are the letters replaceParsedParam knows after $r, $f, $t, $a,
// $p and $H.
const uriParts = "uUdhpHPn"

// replacement parses the replacement starting with the '$' at i and returns
// it with the offset just past it.
func (c *compiler) replacement(i, end int, at func(int) byte) (node, int, *Error) {
	letter := at(i + 1)
	if i+1 >= end {
		return node{}, 0, c.errAt(i, `"$" at the end (write \$ for a dollar sign)`)
	}
	sub := at(i + 2)
	switch letter {
	case 'r', 'f', 't':
		src := map[byte]source{'r': srcRURI, 'f': srcFrom, 't': srcTo}[letter]
		switch {
		case sub == 0:
			return node{kind: kWhole, src: src}, i + 2, nil
		case sub == '.': // "$r." stands for $r when text follows; the dot is eaten
			return node{kind: kWhole, src: src}, i + 3, nil
		case sub == 't' && letter != 'r':
			return node{kind: kTag, src: src}, i + 3, nil
		}
		return c.uriPart(i, end, node{kind: kPart, src: src}, sub, i+2)
	case 'a', 'p':
		hdr := "P-Asserted-Identity"
		if letter == 'p' {
			hdr = "P-Preferred-Identity"
		}
		switch sub {
		case 0:
			return node{kind: kHeader, arg: hdr}, i + 2, nil
		case '.':
			return node{kind: kHeader, arg: hdr}, i + 3, nil
		case 'i': // alias of u (Readme.sbc.txt)
			sub = 'u'
		}
		return c.uriPart(i, end, node{kind: kPart, src: srcHeader, arg: hdr}, sub, i+2)
	case 'c':
		if sub == 0 {
			return node{kind: kCallID}, i + 2, nil
		}
		if sub == 'i' {
			return node{kind: kCallID}, i + 3, nil
		}
	case 's':
		switch sub {
		case 'i':
			return node{kind: kSrcIP}, i + 3, nil
		case 'p':
			return node{kind: kSrcPort}, i + 3, nil
		}
	case 'd':
		switch sub {
		case 'i':
			return node{kind: kDstIP}, i + 3, nil
		case 'p':
			return node{kind: kDstPort}, i + 3, nil
		}
	case 'R':
		k, ok := map[byte]kind{'i': kLocIP, 'p': kLocPort, 'f': kIfID, 'n': kIfName, 'I': kIfPublic}[sub]
		if ok {
			return node{kind: k}, i + 3, nil
		}
	case 'm':
		return node{kind: kMethod}, i + 2, nil
	case 'P':
		name, next, err := c.parenName(i, i+2, end, "$P(param)", false)
		if err != nil {
			return node{}, 0, err
		}
		return node{kind: kAppParam, arg: name}, next, nil
	case 'H':
		if sub == '(' {
			name, next, err := c.parenName(i, i+2, end, "$H(header)", false)
			if err != nil {
				return node{}, 0, err
			}
			return node{kind: kHeader, arg: name}, next, nil
		}
		if at(i+3) != '(' || (sub != '.' && strings.IndexByte(uriParts, sub) < 0) {
			return node{}, 0, c.errAt(i, "unknown replacement %q: $H(header) or $H%s(header) wanted", c.show(i, end), "{u,U,d,h,p,H,P,n}")
		}
		name, next, err := c.parenName(i, i+3, end, "$H"+string(sub)+"(header)", false)
		if err != nil {
			return node{}, 0, err
		}
		if sub == '.' {
			return node{kind: kHeader, arg: name}, next, nil
		}
		// $HP(header) yields all URI parameters of the header: SEMS would
		// read "(header)" as a parameter name there, a bug not worth keeping.
		return node{kind: kPart, src: srcHeader, arg: name, part: sub}, next, nil
	case 'M':
		return c.regexMap(i, end, at)
	case '_':
		op := sub
		if strings.IndexByte("ul5str", op) < 0 || op == 0 {
			return node{}, 0, c.errAt(i, "unknown string modifier %q: $_u, $_l, $_s, $_5, $_t or $_r wanted", c.show(i, end))
		}
		inner, next, err := c.bracketed(i, i+3, end, at, "$_"+string(op)+"(...)")
		if err != nil {
			return node{}, 0, err
		}
		return node{kind: kModifier, op: op, inner: inner}, next, nil
	case '#':
		inner, next, err := c.bracketed(i, i+2, end, at, "$#(...)")
		if err != nil {
			return node{}, 0, err
		}
		return node{kind: kURLEncode, inner: inner}, next, nil
	case 'u', 'U':
		return node{}, 0, c.errAt(i, "%q reads SEMS's registration cache, which Tollgate does not have", c.show(i, end))
	case 'V':
		return node{}, 0, c.errAt(i, "%q reads SEMS call-control variables, which Tollgate does not have", c.show(i, end))
	}
	return node{}, 0, c.errAt(i, "unknown replacement %q", c.show(i, end))
}

// uriPart parses the part letter (and a P(param)) after $r, $f, $t, $a, $p.
func (c *compiler) uriPart(i, end int, n node, part byte, partAt int) (node, int, *Error) {
	if part == 0 || strings.IndexByte(uriParts, part) < 0 {
		return node{}, 0, c.errAt(i, "unknown replacement %q: the part must be one of u U d h p H P n (write $%c. for the whole value when text follows)", c.show(i, end), c.src[i+1])
	}
	n.part = part
	next := partAt + 1
	// $fP(name): one URI parameter. As in replaceParsedParam, "(" only counts
	// when something follows it; $fP() means all parameters, like $fP.
	if part == 'P' && next < end-1 && c.src[next] == '(' {
		name, after, err := c.parenName(i, next, end, "$"+c.src[i+1:next]+"(param)", true)
		if err != nil {
			return node{}, 0, err
		}
		n.hasArg, n.param = name != "", name
		return n, after, nil
	}
	return n, next, nil
}

// parenName reads the name in "(...)" at open, up to the first ')', as SEMS
// does for $P, $H and $fP (no nesting, no escapes there).
func (c *compiler) parenName(i, open, end int, what string, allowEmpty bool) (string, int, *Error) {
	if open >= end || c.src[open] != '(' {
		return "", 0, c.errAt(i, "%s: missing '('", what)
	}
	closeAt := strings.IndexByte(c.src[open+1:end], ')')
	if closeAt < 0 {
		return "", 0, c.errAt(open, "%s: unclosed '('", what)
	}
	name := c.src[open+1 : open+1+closeAt]
	if name == "" && !allowEmpty {
		return "", 0, c.errAt(open, "%s: empty name", what)
	}
	return name, open + 1 + closeAt + 1, nil
}

// bracketed compiles the pattern inside "(...)" at open, finding the closing
// bracket as skip_to_end_of_brackets does: nested brackets count, and a
// bracket after a backslash does not.
func (c *compiler) bracketed(i, open, end int, at func(int) byte, what string) (*Pattern, int, *Error) {
	if at(open) != '(' {
		return nil, 0, c.errAt(i, "%s: missing '('", what)
	}
	closeAt := skipToEndOfBrackets(c.src[:end], open+1)
	if closeAt >= end {
		return nil, 0, c.errAt(open, "%s: unclosed '('", what)
	}
	inner, err := c.compile(open+1, closeAt)
	if err != nil {
		return nil, 0, err
	}
	return inner, closeAt + 1, nil
}

// regexMap parses $M(value=>map): the value is a pattern, the map name is
// what follows the last "=>".
func (c *compiler) regexMap(i, end int, at func(int) byte) (node, int, *Error) {
	open := i + 2
	if at(open) != '(' {
		return node{}, 0, c.errAt(i, "$M(value=>map): missing '('")
	}
	closeAt := skipToEndOfBrackets(c.src[:end], open+1)
	if closeAt >= end {
		return node{}, 0, c.errAt(open, "$M(value=>map): unclosed '('")
	}
	body := c.src[open+1 : closeAt]
	sep := strings.LastIndex(body, "=>")
	if sep < 0 {
		return node{}, 0, c.errAt(i, "$M(value=>map): no \"=>\" in %q", body)
	}
	name := body[sep+2:]
	m := c.maps.Get(name)
	if m == nil {
		return node{}, 0, c.errAt(open+1+sep+2, "$M(value=>map): unknown regex map %q", name)
	}
	inner, err := c.compile(open+1, open+1+sep)
	if err != nil {
		return node{}, 0, err
	}
	return node{kind: kMap, inner: inner, m: m}, closeAt + 1, nil
}

// show returns the replacement at i for an error message: "$" and up to
// three following characters.
func (c *compiler) show(i, end int) string {
	j := min(i+4, end)
	for j < end && !utf8.RuneStart(c.src[j]) {
		j++
	}
	return c.src[i:j]
}

// skipToEndOfBrackets is AmUtils.cpp's skip_to_end_of_brackets: the offset
// of the ')' closing the bracket opened just before start, or len(s).
func skipToEndOfBrackets(s string, start int) int {
	res := start
	last := byte(' ')
	depth := 0
	for res < len(s) && (s[res] != ')' || depth > 0 || last == '\\') {
		if last != '\\' {
			if s[res] == ')' && depth > 0 {
				depth--
			} else if s[res] == '(' {
				depth++
			}
		}
		last = s[res]
		res++
	}
	return res
}
