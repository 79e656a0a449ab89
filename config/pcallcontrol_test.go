package config

import (
	"net/netip"
	"strings"
	"testing"
)

// TestPCallControl: trusted sources are addresses or networks (an IPv4
// source arriving mapped into IPv6 included), the modules default to
// both, and a profile that would trust nobody or name an unknown module
// is refused, located.
func TestPCallControl(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - {name: pcc, p_callcontrol: {trusted: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Profile("pcc")
	pcc := p.PCallControl
	for _, tc := range []struct {
		addr  string
		trust bool
	}{{"10.1.2.3", true}, {"::ffff:10.1.2.3", true}, {"192.0.2.7", true}, {"192.0.2.8", false},
		{"2001:db8::1", true}, {"127.0.0.1", false}} {
		if got := pcc.Trusts(netip.MustParseAddr(tc.addr)); got != tc.trust {
			t.Errorf("Trusts(%s) = %v", tc.addr, got)
		}
	}
	if !pcc.Allows(PCCCallTimer) || !pcc.Allows(PCCLimit) {
		t.Errorf("modules = %v, want both", pcc.Modules)
	}
	for _, tc := range []struct{ pcc, want string }{
		{`{modules: [limit]}`, `profiles[0].p_callcontrol.trusted: list the addresses`},
		{`{trusted: ["10.0.0.0/33"]}`, `profiles[0].p_callcontrol.trusted[0]: "10.0.0.0/33"`},
		{`{trusted: ["10.0.0.1"], modules: [voicemail]}`, `profiles[0].p_callcontrol.modules[0]: "voicemail"`},
	} {
		_, err := Parse([]byte(route + "\nprofiles:\n  - {name: p, p_callcontrol: " + tc.pcc + "}\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.pcc, err, tc.want)
		}
	}
}
