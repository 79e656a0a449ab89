package config

import (
	"strings"
	"testing"
)

// TestDialogOptions: the transfer and subscription options default to
// SEMS's (on) when left out or without a profile, take false when
// written, and a value that is no boolean is located in the file.
func TestDialogOptions(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + `
profiles:
  - {name: plain}
  - {name: strict, fix_replaces_ref: false, fix_replaces_inv: false, allow_subless_notify: false, nat_handling: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	var none *Profile
	plain, _ := c.Profile("plain")
	for _, p := range []*Profile{none, plain} {
		if !p.RewritesReferReplaces() || !p.RewritesInviteReplaces() || !p.AllowsSublessNotify() {
			t.Errorf("%v: defaults off", p)
		}
		if p.HandlesNAT() {
			t.Errorf("%v: NAT handling on by default", p)
		}
	}
	strict, _ := c.Profile("strict")
	if strict.RewritesReferReplaces() || strict.RewritesInviteReplaces() || strict.AllowsSublessNotify() || !strict.HandlesNAT() {
		t.Error("strict: options left on")
	}
	if strict.HoldActivityALeg != "sendonly" {
		t.Errorf("hold_activity_aleg defaults to %q", strict.HoldActivityALeg)
	}
	_, err = Parse([]byte(route + `
profiles:
  - {name: hold, hold_alter_b2b_bleg: true, hold_activity_bleg: onhold}
`))
	if err == nil || !strings.Contains(err.Error(), `profiles[0].hold_activity_bleg: "onhold": want sendrecv`) {
		t.Errorf("err = %v", err)
	}
	_, err = Parse([]byte(route + `
profiles:
  - {name: cid, call_id: "$ci_$Q"}
`))
	if err == nil || !strings.Contains(err.Error(), `profiles[0].call_id`) {
		t.Errorf("err = %v", err)
	}
	_, err = Parse([]byte(route + `
profiles:
  - {name: mime, mime_filter: greylist}
`))
	if err == nil || !strings.Contains(err.Error(), `profiles[0].mime_filter: "greylist"`) {
		t.Errorf("err = %v", err)
	}
	_, err = Parse([]byte(route + `
profiles:
  - {name: bad, allow_subless_notify: maybe}
`))
	if err == nil || !strings.Contains(err.Error(), "line ") || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("err = %v", err)
	}
}
