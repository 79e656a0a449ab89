package profile

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

type testProfile struct{ refuse bool }

func entry(name, src string) Entry[testProfile] {
	return Entry[testProfile]{Name: name, Origin: name + ".yaml", Checksum: Checksum([]byte(src)), Profile: testProfile{refuse: name == "refuse"}}
}

// The example of Readme.sbc.txt: calls from 10.0.* go to internal1, from
// 10.1.* to internal2, other calls to the R-URI domain iptel.org to
// 'iptel', everything else is refused.
func readmeSet(t *testing.T) *Set[testProfile] {
	t.Helper()
	maps := mustMaps(t,
		mustMap(t, "src_ipmap", "^10\\.0\\..*=>internal1\n^10\\.1\\..*=>internal2\n"),
		mustMap(t, "rurimap", "iptel.org=>iptel\n"),
	)
	sels, err := CompileSelectors([]string{"$M($si=>src_ipmap)", "$M($rh=>rurimap)", "refuse"}, maps)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(sels, maps,
		entry("refuse", "refuse_with: 403 Forbidden"),
		entry("internal1", "a"), entry("internal2", "b"), entry("iptel", "c"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSelectionOrderReadmeExample(t *testing.T) {
	t.Parallel()
	s := readmeSet(t)
	cases := []struct {
		src, ruri, want, rule string
	}{
		{"10.0.3.4:5060", "sip:x@iptel.org", "internal1", "$M($si=>src_ipmap)"},
		{"10.1.3.4:5060", "sip:x@other.org", "internal2", "$M($si=>src_ipmap)"},
		{"192.0.2.1:5060", "sip:x@iptel.org", "iptel", "$M($rh=>rurimap)"},
		{"192.0.2.1:5060", "sip:x@other.org", "refuse", "refuse"},
	}
	for _, c := range cases {
		r := NewRequest(Message{URI: c.ruri, Source: netip.MustParseAddrPort(c.src)})
		e, rule, err := s.Select(r)
		if err != nil {
			t.Fatalf("%s %s: %v", c.src, c.ruri, err)
		}
		if e.Name != c.want || rule != c.rule {
			t.Errorf("%s %s: chose %q by %q, want %q by %q", c.src, c.ruri, e.Name, rule, c.want, c.rule)
		}
	}
}

func TestSelectionFromRealInvite(t *testing.T) {
	t.Parallel()
	maps := mustMaps(t, mustMap(t, "users", "^\\+49(.*)=>de\n"))
	sels, err := CompileSelectors([]string{"$H(P-SBCProfile)", "$(paramhdr)", "$(ruri.user)"}, maps)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(sels, maps, entry("gold", ""), entry("silver", ""), entry("+4930123456", ""))
	if err != nil {
		t.Fatal(err)
	}
	// P-App-Param: ...;profile=gold, and no P-SBCProfile header
	e, rule, err := set.Select(testRequest(t))
	if err != nil || e.Name != "gold" || rule != "$(paramhdr)" {
		t.Errorf("got %v %q %v, want gold by $(paramhdr)", e, rule, err)
	}
	r := FromSIP(parseInvite(t, withHeader("P-SBCProfile: silver")), testLocal)
	if e, rule, err := set.Select(r); err != nil || e.Name != "silver" || rule != "$H(P-SBCProfile)" {
		t.Errorf("got %v %q %v, want silver by the header", e, rule, err)
	}
	noParam := strings.Replace(testInvite, "P-App-Param: u=myuser;p=\"my;pwd\";d=mydomain;profile=gold\r\n", "", 1)
	r = FromSIP(parseInvite(t, noParam), testLocal)
	if e, rule, err := set.Select(r); err != nil || e.Name != "+4930123456" || rule != "$(ruri.user)" {
		t.Errorf("got %v %q %v, want the R-URI user", e, rule, err)
	}
}

func TestSelectionFailures(t *testing.T) {
	t.Parallel()
	sels, err := CompileSelectors([]string{"$H(X-Profile)", "$rU"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(sels, nil, entry("known", ""))
	if err != nil {
		t.Fatal(err)
	}
	// The first non-empty result decides even when it names no profile.
	r := NewRequest(Message{URI: "sip:known@h", Headers: []Header{{"X-Profile", "ghost"}}})
	_, rule, err := set.Select(r)
	var ue *UnknownProfileError
	if !errors.As(err, &ue) || ue.Name != "ghost" || rule != "$H(X-Profile)" {
		t.Errorf("unknown profile: %v %q", err, rule)
	}
	if _, _, err := set.Select(NewRequest(Message{URI: "sip:h"})); !errors.Is(err, ErrNoProfile) {
		t.Errorf("no match: %v", err)
	}
}

func TestNewSetChecks(t *testing.T) {
	t.Parallel()
	fixed, err := CompileSelectors([]string{"$rU", "missing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSet(fixed, nil, entry("a", "")); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("fixed selector naming no profile: %v", err)
	}
	ok, _ := CompileSelectors([]string{"a"}, nil)
	if _, err := NewSet(ok, nil, entry("a", ""), entry("a", "")); err == nil {
		t.Error("duplicate profile accepted")
	}
	if _, err := NewSet[testProfile](nil, nil, entry("a", "")); err == nil {
		t.Error("empty selector list accepted")
	}
	if _, err := CompileSelectors([]string{"a", "$fX"}, nil); err == nil || !strings.Contains(err.Error(), "selectors[1]") {
		t.Errorf("selector error does not say which: %v", err)
	}
}

func TestSetListsChecksums(t *testing.T) {
	t.Parallel()
	s := readmeSet(t)
	es := s.Entries()
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
		if len(e.Checksum) != 64 {
			t.Errorf("%s: checksum %q", e.Name, e.Checksum)
		}
	}
	if strings.Join(names, ",") != "internal1,internal2,iptel,refuse" {
		t.Errorf("entries %v", names)
	}
	// sha256("refuse_with: 403 Forbidden"), as sha256sum(1) prints it
	e, _ := s.Get("refuse")
	if e.Checksum != "ea16e34242a38d0a25d7848fea013ad502bd3833f3ef62a7e14021dc3de4ce2c" {
		t.Errorf("checksum %q", e.Checksum)
	}
	if len(s.Selectors()) != 3 || s.Selectors()[2].String() != "refuse" || s.Maps() == nil {
		t.Error("selectors or maps not kept")
	}
}
