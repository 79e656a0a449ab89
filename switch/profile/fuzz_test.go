package profile

import "testing"

// FuzzCompile feeds arbitrary patterns to the compiler: it must never panic,
// and whatever compiles must expand against a real INVITE without panicking.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"", "$", `\`, "$rU", "$r.", "$fP(cpc)", "$fP(", "$aP()", "$H(X-Multi)", "$HU(P-NextHop-URI)",
		"$H.(x)", "$M($si=>ipmap)", "$M($_u($fU)=>usermap)", "$M(=>)", "$_u($_l($fh))", "$_5()",
		"$_t(abcd)", "$_r(3)", "$#(a b)", `$_u(a\)b)`, `\r\n\t\$\\\*`, "$P(u)", "$ci_leg2", "$si:$sp",
		"$Ri$Rp$Rf$Rn$RI$di$dp$m", "$(paramhdr)", "ä$q", "$_u((((", "$M((=>ipmap)",
	} {
		f.Add(seed)
	}
	r := testRequest(f)
	maps := mustMaps(f,
		mustMap(f, "ipmap", "^192\\.0\\.2\\.(.*)=>lab\\1\\2\\9\n"),
		mustMap(f, "usermap", "^(a)(l)?(x)?(.*)=>\\4\\3\\2\\1\\\\\n"),
	)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := CompileOption("fuzz", "opt", src, maps)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile(%q) returned %T, want *Error", src, err)
			}
			return
		}
		if p.String() != src {
			t.Fatalf("String() = %q, want %q", p.String(), src)
		}
		got := p.Expand(r)
		if got2 := string(p.AppendExpand(nil, r)); got2 != got && !containsRandom(src) {
			t.Fatalf("Expand(%q) = %q but AppendExpand gives %q", src, got, got2)
		}
	})
}

// containsRandom reports whether src may hold $_r, whose output differs
// between two expansions.
func containsRandom(src string) bool {
	for i := 0; i+2 < len(src); i++ {
		if src[i] == '$' && src[i+1] == '_' && src[i+2] == 'r' {
			return true
		}
	}
	return false
}

// FuzzParseMap checks that any map file either loads or is refused, and a
// loaded map maps any key without panicking.
func FuzzParseMap(f *testing.F) {
	f.Add("^a(.)=>x\\1\n# c\n", "ab")
	f.Add("=>\n", "")
	f.Add("(=>)\n", "(")
	f.Fuzz(func(t *testing.T, text, key string) {
		m, err := ParseMap("f", []byte(text))
		if err != nil {
			return
		}
		m.Map(key)
	})
}

// FuzzParseAddr checks the address splitter on arbitrary header values.
func FuzzParseAddr(f *testing.F) {
	f.Add(`"A \"b\"" <sip:u@[::1]:5;p=1?h=2>;tag=3`)
	f.Add("sip:u@h;tag=1, <sip:x>")
	f.Add(`u=1;p="x;y",p=2`)
	p, err := Compile("$fu|$fU|$fd|$fh|$fp|$fH|$fP|$fP(tag)|$fn|$ft|$P(p)|$di|$dp")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := NewRequest(Message{URI: v, From: v, NextHop: v, Headers: []Header{{"P-App-Param", v}}})
		p.Expand(r)
	})
}
