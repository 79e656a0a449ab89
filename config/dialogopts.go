package config

import (
	"slices"
	"strings"

	"github.com/tollgate/tollgate/switch/profile"
)

// DialogOptions are the profile options that shape requests within a
// call's dialogs rather than its setup: NAT traversal, transfers (SEMS fix_replaces_ref,
// fix_replaces_inv), event subscriptions (allow_subless_notify). They are
// written inline in a profile and kept as written in the compiled one;
// an option left out takes SEMS's default, read through the methods
// below, so a call without a profile behaves as one with none set.
type DialogOptions struct {
	// FixReplacesRef rewrites the Replaces of a relayed REFER's Refer-To
	// from the referrer's leg to the other leg of the call it names, so
	// that the transferee's INVITE names a dialog its target has (the
	// switch hides Call-IDs and tags). Default true.
	FixReplacesRef *bool `yaml:"fix_replaces_ref,omitempty"`
	// FixReplacesInv rewrites the Replaces of a new INVITE that names a
	// leg of a call through the switch to that call's other leg. Default
	// true.
	FixReplacesInv *bool `yaml:"fix_replaces_inv,omitempty"`
	// AllowSublessNotify relays a NOTIFY within a dialog for which no
	// relayed REFER or SUBSCRIBE made a subscription; false answers it
	// 481. Default true, as in SEMS.
	AllowSublessNotify *bool `yaml:"allow_subless_notify,omitempty"`
	// NATHandling treats the caller as behind NAT (SEMS dlg_nat_handling,
	// Sippy nat_traversal): responses and requests to it go to the
	// address and port its messages came from, whatever its Via and
	// Contact say. Default false.
	NATHandling bool `yaml:"nat_handling,omitempty"`

	// Hold offers (re-INVITE or UPDATE putting the streams on hold)
	// relayed to the caller's leg (aleg) or the gateway's (bleg) are
	// altered when HoldAlter* is set, as SEMS's hold_alter_b2b_*: the
	// streams get HoldActivity* (sendonly by default, or sendrecv,
	// recvonly, inactive), and with HoldZeroConnection* the c= address
	// 0.0.0.0, for peers that know only RFC 2543's hold.
	HoldAlterALeg          bool   `yaml:"hold_alter_b2b_aleg,omitempty"`
	HoldAlterBLeg          bool   `yaml:"hold_alter_b2b_bleg,omitempty"`
	HoldZeroConnectionALeg bool   `yaml:"hold_zero_connection_aleg,omitempty"`
	HoldZeroConnectionBLeg bool   `yaml:"hold_zero_connection_bleg,omitempty"`
	HoldActivityALeg       string `yaml:"hold_activity_aleg,omitempty"`
	HoldActivityBLeg       string `yaml:"hold_activity_bleg,omitempty"`

	// MIMEFilter strips parts of multipart bodies (an ISUP part beside
	// the SDP of SIP-I/SIP-T) as SEMS's mime_filter: whitelist or
	// blacklist of the media types in MIMEFilterList; the SDP part always
	// stays. Empty: every part crosses.
	MIMEFilter     string   `yaml:"mime_filter,omitempty"`
	MIMEFilterList []string `yaml:"mime_filter_list,omitempty"`

	// CallID is the gateway leg's Call-ID, a pattern (SEMS's Call-ID
	// option: "$ci_leg2" is the caller's Call-ID and "_leg2", to follow a
	// call across the switch while debugging). Empty: the switch's own,
	// which hides the caller's. Every attempt of the call gets it.
	CallID        string           `yaml:"call_id,omitempty"`
	CallIDPattern *profile.Pattern `yaml:"-"`
}

// orTrue is *b, or true when unset.
func orTrue(b *bool) bool { return b == nil || *b }

// RewritesReferReplaces reports fix_replaces_ref; true for a nil profile.
func (p *Profile) RewritesReferReplaces() bool {
	return p == nil || orTrue(p.FixReplacesRef)
}

// RewritesInviteReplaces reports fix_replaces_inv; true for a nil profile.
func (p *Profile) RewritesInviteReplaces() bool {
	return p == nil || orTrue(p.FixReplacesInv)
}

// AllowsSublessNotify reports allow_subless_notify; true for a nil profile.
func (p *Profile) AllowsSublessNotify() bool {
	return p == nil || orTrue(p.AllowSublessNotify)
}

// HandlesNAT reports nat_handling; false for a nil profile.
func (p *Profile) HandlesNAT() bool { return p != nil && p.NATHandling }

// HoldActivities are the directions a hold offer may be altered to.
var HoldActivities = []string{"sendrecv", "sendonly", "recvonly", "inactive"}

// validateDialogOptions checks the options of profile path; the hold
// activities default to sendonly, as in SEMS.
func (v *validator) validateDialogOptions(path string, o *DialogOptions, pat func(option, s string) *profile.Pattern) bool {
	ok := true
	if o.CallID != "" {
		if o.CallIDPattern = pat("call_id", o.CallID); o.CallIDPattern == nil {
			ok = false
		}
	}
	for _, a := range []struct {
		option string
		value  *string
	}{{"hold_activity_aleg", &o.HoldActivityALeg}, {"hold_activity_bleg", &o.HoldActivityBLeg}} {
		if *a.value == "" {
			*a.value = "sendonly"
			continue
		}
		if !slices.Contains(HoldActivities, *a.value) {
			v.addf(path+"."+a.option, "%q: want sendrecv, sendonly, recvonly or inactive", *a.value)
			ok = false
		}
	}
	switch o.MIMEFilter {
	case "":
	case FilterWhitelist, FilterBlacklist:
		for i, t := range o.MIMEFilterList {
			o.MIMEFilterList[i] = strings.ToLower(strings.TrimSpace(t))
		}
	default:
		v.addf(path+".mime_filter", "%q: want whitelist or blacklist", o.MIMEFilter)
		ok = false
	}
	return ok
}
