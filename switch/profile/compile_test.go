package profile

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileErrorsNameTheColumn(t *testing.T) {
	t.Parallel()
	maps := mustMaps(t, mustMap(t, "ipmap", "^10=>x\n"))
	cases := []struct {
		src    string
		column int
		msg    string
	}{
		{"$", 1, `"$" at the end`},
		{"abc$", 4, `"$" at the end`},
		{"sip:$fX@h", 5, `unknown replacement "$fX@"`},
		{"$rt", 1, "unknown replacement"},
		{"$x", 1, `unknown replacement "$x"`},
		{"$cx", 1, "unknown replacement"},
		{"$s", 1, "unknown replacement"},
		{"$sq", 1, "unknown replacement"},
		{"$R", 1, "unknown replacement"},
		{"$Rz", 1, "unknown replacement"},
		{"$dz", 1, "unknown replacement"},
		{"$az", 1, "unknown replacement"},
		{"$P", 1, "$P(param): missing '('"},
		{"$Pu", 1, "$P(param): missing '('"},
		{"ab$P(u", 5, "$P(param): unclosed '('"},
		{"$P()", 3, "$P(param): empty name"},
		{"$H", 1, "unknown replacement"},
		{"$H(", 3, "$H(header): unclosed '('"},
		{"$H()", 3, "empty name"},
		{"$Hx(X)", 1, "unknown replacement"},
		{"$HU(X", 4, "$HU(header): unclosed '('"},
		{"$fP(x", 4, "unclosed '('"},
		{"$M", 1, "$M(value=>map): missing '('"},
		{"$M($si=>ipmap", 3, "unclosed '('"},
		{"$M($si)", 1, `no "=>"`},
		{"xx$M($si=>nomap)", 11, `unknown regex map "nomap"`},
		{"$M($q=>ipmap)", 4, "unknown replacement"},
		{"$_x(a)", 1, "unknown string modifier"},
		{"$_", 1, "unknown string modifier"},
		{"$_u", 1, "$_u(...): missing '('"},
		{"$_u(abc", 4, "unclosed '('"},
		{"$_u(a(b)", 4, "unclosed '('"},
		{"$_u($zz)", 5, "unknown replacement"},
		{"$#(", 3, "unclosed '('"},
		{"$ua", 1, "registration cache"},
		{"$Ua", 1, "registration cache"},
		{"$V(x)", 1, "call-control variables"},
		{"äö$q", 3, "unknown replacement"},
	}
	for _, c := range cases {
		_, err := CompileOption("gold", "RURI", c.src, maps)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Compile(%q): error %v, want *Error", c.src, err)
			continue
		}
		if pe.Column != c.column || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("Compile(%q): column %d %q, want column %d containing %q", c.src, pe.Column, pe.Msg, c.column, c.msg)
		}
		if pe.Profile != "gold" || pe.Option != "RURI" || pe.Pattern != c.src {
			t.Errorf("Compile(%q): located %q/%q/%q", c.src, pe.Profile, pe.Option, pe.Pattern)
		}
		if !strings.HasPrefix(err.Error(), `profile "gold": RURI: column `) {
			t.Errorf("Compile(%q): message %q does not start with the location", c.src, err)
		}
	}
}

func TestCompileWithoutMapsRefusesM(t *testing.T) {
	t.Parallel()
	_, err := Compile("$M($si=>ipmap)")
	if err == nil || !strings.Contains(err.Error(), `unknown regex map "ipmap"`) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "profile ") {
		t.Errorf("unnamed compile should not name a profile: %v", err)
	}
}

func TestLiteral(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{"refuse": "refuse", `a\$b`: "a$b", "": ""} {
		p, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := p.Literal(); !ok || got != want {
			t.Errorf("Literal(%q) = %q, %v", src, got, ok)
		}
		if p.String() != src {
			t.Errorf("String() = %q, want %q", p.String(), src)
		}
	}
	p, err := Compile("x$rU")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Literal(); ok {
		t.Error("x$rU reported as literal")
	}
}
