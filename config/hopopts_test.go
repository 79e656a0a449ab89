package config

import (
	"strings"
	"testing"
)

// TestHopOptions: next_hop_1st_req defaults to true (RFC 3261 routing
// within the dialog), and what cannot work is refused at load, located:
// force_outbound_proxy without a proxy, a contact that is no SIP address,
// contact parameters that are none.
func TestHopOptions(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - {name: plain}
  - {name: pinned, next_hop_1st_req: false, outbound_proxy: "sip:10.0.0.1", force_outbound_proxy: true,
     contact: "sip:$rU@sbc.example.com", dlg_contact_params: ";a=1", bleg_dlg_contact_params: "b;c=2"}
`))
	if err != nil {
		t.Fatal(err)
	}
	var none *Profile
	plain, _ := c.Profile("plain")
	pinned, _ := c.Profile("pinned")
	if !none.FollowsDialogRouting() || !plain.FollowsDialogRouting() || pinned.FollowsDialogRouting() {
		t.Error("next_hop_1st_req not as written or defaulted")
	}
	if pinned.ContactPattern == nil || !pinned.ForceOutboundProxy {
		t.Errorf("pinned = %+v", pinned.HopOptions)
	}
	for _, tc := range []struct{ profile, want string }{
		{`{name: f, force_outbound_proxy: true}`, `profiles[0].force_outbound_proxy: needs an outbound_proxy`},
		{`{name: c, contact: "mailto:x@y"}`, `profiles[0].contact: "mailto:x@y": want a sip: URI`},
		{`{name: c, contact: "<sip:x@y>;expires=5"}`, `profiles[0].contact: "<sip:x@y>;expires=5": want no header parameters`},
		{`{name: c, contact: "sip:$Q"}`, `profiles[0].contact`},
		{`{name: p, dlg_contact_params: "a b"}`, `profiles[0].dlg_contact_params: "a b": want URI parameters`},
		{`{name: p, bleg_dlg_contact_params: ";"}`, `profiles[0].bleg_dlg_contact_params: ";": want URI parameters`},
	} {
		_, err := Parse([]byte(route + "\nprofiles:\n  - " + tc.profile + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.profile, err, tc.want)
		}
	}
}
