package profile

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestExpandEveryReplacement(t *testing.T) {
	t.Parallel()
	r := testRequest(t)
	maps := mustMaps(t,
		mustMap(t, "ipmap", "# sources\n^192\\.0\\.2\\.(.*)=>lab\\1\n^10\\..*=>internal\n"),
		mustMap(t, "usermap", "^alice=>alice.smith\n^bob=>bob.jones\n"),
	)
	from := `"Alice \"A\" Smith" <sip:alice@example.com:5061;user=phone;cpc=ordinary>;tag=1928301774`
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	cases := []struct{ src, want string }{
		// R-URI
		{"$r", "sip:+4930123456@gw.example.net:5070;user=phone;transport=udp"},
		{"<$r.>", "<sip:+4930123456@gw.example.net:5070;user=phone;transport=udp>"},
		{"$ru", "+4930123456@gw.example.net:5070"},
		{"$rU", "+4930123456"},
		{"$rd", "gw.example.net:5070"},
		{"$rh", "gw.example.net"},
		{"$rp", "5070"},
		{"$rP", "user=phone;transport=udp"},
		{"$rP(transport)", "udp"},
		{"$rP(TRANSPORT)", "udp"},
		{"$rP(missing)", ""},
		{"$rP()", "user=phone;transport=udp"},
		{"$rH", ""},
		{"$rn", ""},
		// From
		{"$f", from},
		{"$f.x", from + "x"},
		{"$fu", "alice@example.com:5061"},
		{"$fU", "alice"},
		{"$fd", "example.com:5061"},
		{"$fh", "example.com"},
		{"$fp", "5061"},
		{"$fP", "user=phone;cpc=ordinary"},
		{"$fP(cpc)", "ordinary"},
		{"$fn", `Alice "A" Smith`},
		{"$ft", "1928301774"},
		// To
		{"$t", "<sip:+4930123456@gw.example.net>"},
		{"$tu", "+4930123456@gw.example.net"},
		{"$tU", "+4930123456"},
		{"$td", "gw.example.net"},
		{"$tp", ""},
		{"$tt", ""},
		// P-Asserted-Identity and P-Preferred-Identity
		{"$a", `"Alice" <sip:+4940111@pai.example.com;user=phone>`},
		{"$a.", `"Alice" <sip:+4940111@pai.example.com;user=phone>`},
		{"$ai", "+4940111@pai.example.com"},
		{"$au", "+4940111@pai.example.com"},
		{"$aU", "+4940111"},
		{"$ah", "pai.example.com"},
		{"$aP(user)", "phone"},
		{"$an", "Alice"},
		{"$p", "<sip:ppi-user@ppi.example.com:5080>"},
		{"$pi", "ppi-user@ppi.example.com:5080"},
		{"$pU", "ppi-user"},
		{"$pd", "ppi.example.com:5080"},
		{"$pp", "5080"},
		// transport and call
		{"$ci", "a84b4c76e66710@pc33.example.com"},
		{"$c", "a84b4c76e66710@pc33.example.com"},
		{"$ci_leg2", "a84b4c76e66710@pc33.example.com_leg2"},
		{"$si", "192.0.2.10"},
		{"$sp", "5062"},
		{"$si:$sp", "192.0.2.10:5062"},
		{"$Ri", "198.51.100.1"},
		{"$Rp", "5060"},
		{"$Rf", "2"},
		{"$Rn", "intern"},
		{"$RI", "203.0.113.7"},
		{"$di", "gw.example.net"},
		{"$dp", "5070"},
		{"$m", "INVITE"},
		// P-App-Param and headers
		{"$P(u)", "myuser"},
		{"$P(p)", "my;pwd"},
		{"$P(D)", "mydomain"},
		{"$P(profile)", "gold"},
		{"$P(nope)", ""},
		{"sip:$P(u)@$P(d)", "sip:myuser@mydomain"},
		{"$H(P-Caller-Uuid)", "0004152379B8"},
		{"$H(p-caller-uuid)", "0004152379B8"},
		{"$H(X-Multi)", "one, two"},
		{"$H(X-Absent)", ""},
		{"$H.(P-Caller-Uuid)", "0004152379B8"},
		{"$HU(P-NextHop-URI)", "nh"},
		{"$Hh(P-NextHop-URI)", "10.0.2.15"},
		{"$Hp(P-NextHop-URI)", "5092"},
		{"$Hd(P-NextHop-URI)", "10.0.2.15:5092"},
		{"$Hu(P-NextHop-URI)", "nh@10.0.2.15:5092"},
		{"$HP(P-Asserted-Identity)", "user=phone"},
		{"$Hn(P-Asserted-Identity)", "Alice"},
		{"$HU(X-Absent)", ""},
		// regex maps
		{"$M($si=>ipmap)", "lab10"},
		{"$M($fU=>usermap)", "alice.smith"},
		{"$M($tU=>usermap)", ""},
		{"[$M(x$fU=>usermap)]", "[]"},
		{"$M(bob=>usermap)", "bob.jones"},
		// string modifiers
		{"$_u($fh)", "EXAMPLE.COM"},
		{"$_l(ABC$fU)", "abcalice"},
		{"$_u(ä$fU)", "äALICE"},
		{"$_s($fU)", "5"},
		{"$_s()", "0"},
		{"$_5($ci)", md5hex("a84b4c76e66710@pc33.example.com")},
		{"$_5()", md5hex("")},
		{"$_t(sip:host;udp)", "udp"},
		{"$_t(abc)", "abc"},
		{"$_r(1)", "0"},
		{"$_r(x)", "0"},
		{"$_u($_l(AbC)d)", "ABCD"},
		{"$_s($M($fU=>usermap))", "11"},
		{"$_u(a(b)c)", "A(B)C"},
		{`$_u(a\)b)`, "A)B"},
		{"$#(a b&c/~é)", "a+b%26c%2f~%c3%a9"},
		// escapes
		{`\\`, `\`},
		{`\$rU`, `$rU`},
		{`\*`, `*`},
		{`a\r\nb\tc`, "a\r\nb\tc"},
		{`\q`, "q"},
		{`end\`, `end\`},
		{`P-Source-IP: $si\r\nP-Source-Port: $sp\r\n`, "P-Source-IP: 192.0.2.10\r\nP-Source-Port: 5062\r\n"},
		// plain text
		{"", ""},
		{"refuse", "refuse"},
		{"403 Invalid Domain $rd", "403 Invalid Domain gw.example.net:5070"},
		{`"someone" <sip:$aU@mytodomain.com>`, `"someone" <sip:+4940111@mytodomain.com>`},
	}
	for _, c := range cases {
		p, err := CompileOption("test", "opt", c.src, maps)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.src, err)
			continue
		}
		if got := p.Expand(r); got != c.want {
			t.Errorf("Expand(%q) = %q, want %q", c.src, got, c.want)
		}
		if got := string(p.AppendExpand([]byte("pre:"), r)); got != "pre:"+c.want {
			t.Errorf("AppendExpand(%q) = %q, want %q", c.src, got, "pre:"+c.want)
		}
	}
}

func TestRandomModifierStaysBelowBound(t *testing.T) {
	t.Parallel()
	r := testRequest(t)
	p, err := Compile("$_r(7)")
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		n, err := strconv.Atoi(p.Expand(r))
		if err != nil || n < 0 || n >= 7 {
			t.Fatalf("$_r(7) = %q", p.Expand(r))
		}
	}
}

func TestNextHopReplacements(t *testing.T) {
	t.Parallel()
	cases := []struct{ nextHop, ip, port string }{
		{"10.0.0.1:5080", "10.0.0.1", "5080"},
		{"gw.example.org", "gw.example.org", ""},
		{"[2001:db8::1]:5090", "2001:db8::1", "5090"},
		{"10.0.0.1:5080,10.0.0.2", "10.0.0.1", "5080"},
	}
	for _, c := range cases {
		r := testRequest(t).WithNextHop(c.nextHop)
		p, err := Compile("$di|$dp")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Expand(r), c.ip+"|"+c.port; got != want {
			t.Errorf("next hop %q: %q, want %q", c.nextHop, got, want)
		}
	}
}

func TestAddressForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from                      string
		user, host, port, display string
		tag, params               string
	}{
		{"sip:bob@b.example;tag=9", "bob", "b.example", "", "", "9", "tag=9"},
		{"Bob <sip:bob@b.example>;tag=9", "bob", "b.example", "", "Bob", "9", ""},
		{"  \"B\" <sips:bob@[2001:db8::1]:5061>;tag=x", "bob", "[2001:db8::1]", "5061", "B", "x", ""},
		{"<sip:[2001:db8::2]>", "", "[2001:db8::2]", "", "", "", ""},
		{"<sip:b.example;lr>", "", "b.example", "", "", "", "lr"},
		{"<tel:+123>", "", "+123", "", "", "", ""},
		{"garbage", "", "", "", "", "", ""},
	}
	p, err := Compile("$fU|$fh|$fp|$fn|$ft|$fP")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r := NewRequest(Message{From: c.from})
		want := strings.Join([]string{c.user, c.host, c.port, c.display, c.tag, c.params}, "|")
		if got := p.Expand(r); got != want {
			t.Errorf("From %q: %q, want %q", c.from, got, want)
		}
	}
}

func TestAppParamQuoting(t *testing.T) {
	t.Parallel()
	cases := []struct{ hdr, key, want string }{
		{"u=a;p=b", "p", "b"},
		{"u = a ; p= 'x;y';z=1", "p", "x;y"},
		{"p='x;y' ;z=1", "p", "'x;y' "}, // SEMS unquotes only a value quoted as a whole
		{`x="p=no";p=yes`, "p", "yes"},
		{"pp=1;p=2", "p", "2"},
		{"a=1, p=3", "p", "3"},
		{"P=4", "p", "4"},
		{"p", "p", ""},
		{"p=", "p", ""},
	}
	for _, c := range cases {
		if got := appParam(c.hdr, c.key); got != c.want {
			t.Errorf("appParam(%q, %q) = %q, want %q", c.hdr, c.key, got, c.want)
		}
	}
}

func TestFromSIPWithoutAddressHeaders(t *testing.T) {
	t.Parallel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "b.example"})
	r := FromSIP(req, Local{})
	p, err := Compile("$rU|$f.|$t.|$ci|$fU|$H(X)|$si|$Ri")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Expand(r), "bob|||||||"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFromSIPCompactAndMultiValueHeaders(t *testing.T) {
	t.Parallel()
	raw := strings.NewReplacer(
		"From: ", "f: ",
		"To: ", "t: ",
		"Call-ID: ", "i: ",
	).Replace(testInvite)
	r := FromSIP(parseInvite(t, raw), testLocal)
	p, err := Compile("$fU|$tU|$ci|$H(X-Multi)|$H(From)")
	if err != nil {
		t.Fatal(err)
	}
	want := `alice|+4930123456|a84b4c76e66710@pc33.example.com|one, two|"Alice \"A\" Smith" <sip:alice@example.com:5061;user=phone;cpc=ordinary>;tag=1928301774`
	if got := p.Expand(r); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
