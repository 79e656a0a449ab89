package config

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/switch/profile"
)

// HopOptions are the profile options that decide where the gateway
// leg's messages go and how the switch names itself in the Contact
// its peers reach it at (SEMS's next_hop_1st_req, patch_ruri_next_hop,
// next_hop_for_replies, force_outbound_proxy, Contact,
// dlg_contact_params). Written inline in a profile and kept as written in
// the compiled one, each left out behaving as the switch does without it.
type HopOptions struct {
	// NextHop1stReq false sends every request of the gateway's dialog
	// where its INVITE went (the gateway's address, or the outbound
	// proxy), whatever the gateway's Contact and Record-Route say: for
	// gateways whose Contact names an address the switch cannot reach.
	// Default true: requests within the dialog follow RFC 3261.
	NextHop1stReq *bool `yaml:"next_hop_1st_req,omitempty"`
	// PatchRURINextHop sets the host and port of the gateway INVITE's
	// Request-URI to the gateway it is sent to, after ruri and ruri_host
	// have been applied: the user part a ruri pattern built stays.
	PatchRURINextHop bool `yaml:"patch_ruri_next_hop,omitempty"`
	// NextHopForReplies sends the responses to the gateway's requests to
	// the gateway's address (or the outbound proxy) rather than where
	// their Via says.
	NextHopForReplies bool `yaml:"next_hop_for_replies,omitempty"`
	// ForceOutboundProxy keeps the outbound proxy on the path of every
	// request within the gateway's dialog (first Route, sent to it), not
	// only of the INVITE; RFC 3261 12.2.1 routes them by the Record-Route
	// alone.
	ForceOutboundProxy bool `yaml:"force_outbound_proxy,omitempty"`

	// Contact is the Contact the switch gives the gateway leg, a pattern
	// ("sip:$rU@sbc.example.com:5060", a display name allowed): for a
	// switch behind a NAT or a load balancer, whose peers must reach it at
	// another address than its listener's. Empty: the listener's address.
	Contact        string           `yaml:"contact,omitempty"`
	ContactPattern *profile.Pattern `yaml:"-"`
	// DlgContactParams and BLegDlgContactParams are URI parameters
	// (";k=v;flag") added to the switch's Contact toward the caller and
	// toward the gateway; the peer sends them back in the Request-URI of
	// its requests within the dialog.
	DlgContactParams     string `yaml:"dlg_contact_params,omitempty"`
	BLegDlgContactParams string `yaml:"bleg_dlg_contact_params,omitempty"`
}

// FollowsDialogRouting reports next_hop_1st_req; true for a nil profile.
func (p *Profile) FollowsDialogRouting() bool {
	return p == nil || orTrue(p.NextHop1stReq)
}

// validateHopOptions checks the options of profile path.
func (v *validator) validateHopOptions(path string, o *HopOptions, outboundProxy string, pat func(option, s string) *profile.Pattern) bool {
	ok := true
	if o.ForceOutboundProxy && outboundProxy == "" {
		v.addf(path+".force_outbound_proxy", "needs an outbound_proxy")
		ok = false
	}
	if o.Contact != "" {
		if !strings.Contains(o.Contact, "$") {
			if _, err := ParseContact(o.Contact); err != nil {
				v.addf(path+".contact", "%v", err)
				ok = false
			}
		}
		if o.ContactPattern = pat("contact", o.Contact); o.ContactPattern == nil {
			ok = false
		}
	}
	for _, a := range []struct {
		option string
		value  *string
	}{{"dlg_contact_params", &o.DlgContactParams}, {"bleg_dlg_contact_params", &o.BLegDlgContactParams}} {
		if *a.value == "" {
			continue
		}
		if _, err := ParseURIParams(*a.value); err != nil {
			v.addf(path+"."+a.option, "%v", err)
			ok = false
		}
	}
	return ok
}

// ParseContact parses a contact option's value: a sip: URI, or a name
// address ("name" <sip:user@host:port>); header parameters are refused,
// the switch's Contact carries none.
func ParseContact(s string) (*sip.ContactHeader, error) {
	var u sip.Uri
	params := sip.NewParams()
	name, err := sip.ParseAddressValue(strings.TrimSpace(s), &u, &params)
	if err != nil {
		return nil, &optionError{value: s, want: `a sip: URI or "name" <sip:user@host:port>`, err: err}
	}
	if u.Scheme != "sip" || u.Host == "" {
		return nil, &optionError{value: s, want: "a sip: URI with a host"}
	}
	if params.Length() > 0 {
		return nil, &optionError{value: s, want: "no header parameters"}
	}
	return &sip.ContactHeader{DisplayName: name, Address: u}, nil
}

// ParseURIParams parses ";k=v;flag" (the leading ";" optional) into URI
// parameters.
func ParseURIParams(s string) (sip.HeaderParams, error) {
	var u sip.Uri
	raw := "sip:x;" + strings.TrimPrefix(strings.TrimSpace(s), ";")
	if err := sip.ParseUri(raw, &u); err != nil || u.UriParams == nil || u.UriParams.Length() == 0 ||
		strings.ContainsAny(s, "<>?, \t") {
		return nil, &optionError{value: s, want: `URI parameters, ";name=value;flag"`}
	}
	for _, kv := range u.UriParams {
		if kv.K == "" {
			return nil, &optionError{value: s, want: `URI parameters, ";name=value;flag"`}
		}
	}
	return u.UriParams, nil
}

// optionError is an option value that does not parse.
type optionError struct {
	value, want string
	err         error
}

func (e *optionError) Error() string {
	if e.err != nil {
		return "\"" + e.value + "\": want " + e.want + ": " + e.err.Error()
	}
	return "\"" + e.value + "\": want " + e.want
}

func (e *optionError) Unwrap() error { return e.err }
