package aaa

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc3576"
)

// TestReauthAccessRequest: a re-authorisation is marked as such and
// carries the time used so far; the IP password goes only with an account
// that is the caller's address (a digest cannot be replayed).
func TestReauthAccessRequest(t *testing.T) {
	t.Parallel()
	a := NewAuthorizer(nil, AuthConfig{})
	req := AuthRequest{SourceIP: netip.MustParseAddr("192.0.2.7"), CallingNumber: "100", CalledNumber: "200",
		CallID: "abc@host", ConfID: NewConfID(), Purpose: AuthReauthorize, Account: "192.0.2.7",
		ReauthNumber: 2, SessionTime: 65500 * time.Millisecond}
	p, err := a.AccessRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	pairs, _ := VSAValues(p.Attributes, CiscoAVPair)
	if rfc2865.ServiceType_Get(p) != rfc3576.ServiceType_Value_AuthorizeOnly || rfc2865.UserName_GetString(p) != "192.0.2.7" ||
		rfc2866.AcctSessionID_GetString(p) != "abc@host" || rfc2866.AcctSessionTime_Get(p) != 65 ||
		string(p.Get(rfc2865.UserPassword_Type)) != "cisco" || !slices.Contains(pairs, "h323-ivr-out=reauth:2") || !slices.Contains(pairs, "call-id=abc@host") {
		t.Errorf("IP re-authorisation: %v, AVPairs %q", p.Attributes, pairs)
	}
	req.Account = "alice"
	if p, err = a.AccessRequest(req); err != nil || p.Get(rfc2865.UserPassword_Type) != nil || rfc2865.UserName_GetString(p) != "alice" {
		t.Errorf("digest account re-authorisation: %v %v", p.Attributes, err)
	}
}
