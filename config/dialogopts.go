package config

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
