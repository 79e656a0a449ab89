package b2bua

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Transfers (RFC 3515 REFER, RFC 3891 Replaces, RFC 3892 Referred-By)
// through a switch that hides Call-IDs and tags: the dialog a Replaces
// names on one side of the switch is not the one its recipient has, so
// the switch rewrites it to the other leg of the call it names (SEMS's
// fix_replaces_ref on a REFER's Refer-To, fix_replaces_inv on a new
// INVITE). The REFER's implicit subscription, and any SUBSCRIBE's, is
// remembered per call so that a NOTIFY nobody subscribed to can be
// refused (allow_subless_notify).

// referHeaders are the REFER headers that cross legs: the target, the
// referrer's identity (RFC 3892) and whether a subscription is wanted
// (RFC 4488).
var referHeaders = []string{"Refer-To", "Referred-By", "Refer-Sub"}

// replaces is a Replaces value (RFC 3891 6.1): a dialog as its recipient
// sees it, to-tag its own tag and from-tag its peer's.
type replaces struct {
	callID, toTag, fromTag string
	rest                   []string // other parameters (early-only...), kept
}

func parseReplaces(v string) (replaces, bool) {
	parts := strings.Split(v, ";")
	r := replaces{callID: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "to-tag":
			r.toTag = val
		case "from-tag":
			r.fromTag = val
		default:
			r.rest = append(r.rest, strings.TrimSpace(p))
		}
	}
	return r, r.callID != "" && r.toTag != "" && r.fromTag != ""
}

func (r replaces) String() string {
	var b strings.Builder
	b.WriteString(r.callID)
	b.WriteString(";to-tag=")
	b.WriteString(r.toTag)
	b.WriteString(";from-tag=")
	b.WriteString(r.fromTag)
	for _, p := range r.rest {
		b.WriteByte(';')
		b.WriteString(p)
	}
	return b.String()
}

// otherLeg translates a Replaces naming a leg of a call through the switch
// (the switch being the recipient it was written for) into the other leg
// of that call, as that leg's peer sees it. A Replaces naming no leg of
// ours is returned unchanged: it may already name the peer's dialog.
func (s *Switch) otherLeg(r replaces) replaces {
	c, fromA := s.lookup(r.callID, r.fromTag, r.toTag)
	if c == nil {
		return r
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, other := c.legs(fromA)
	if other == nil {
		return r
	}
	out := r
	out.callID = other.d.callID
	out.toTag = other.d.remoteTag
	out.fromTag = other.d.localTag
	return out
}

// copyRefer copies a REFER's transfer headers onto the REFER relayed to
// the other leg, with the Replaces of its Refer-To rewritten when the
// profile says so.
func (c *Call) copyRefer(req, out *sip.Request) {
	fix := c.profile().RewritesReferReplaces()
	for _, name := range referHeaders {
		for _, h := range req.GetHeaders(name) {
			v := h.Value()
			if fix && name == "Refer-To" {
				v = c.sw.fixReferTo(v)
			}
			out.AppendHeader(sip.NewHeader(name, v))
		}
	}
}

// fixReferTo rewrites the Replaces header field embedded in a Refer-To
// URI (RFC 3891 7.1: "?Replaces=" escaped as a URI header).
func (s *Switch) fixReferTo(v string) string {
	open, end := strings.IndexByte(v, '<'), strings.LastIndexByte(v, '>')
	if open < 0 || end < open {
		return v
	}
	uri := v[open+1 : end]
	q := strings.IndexByte(uri, '?')
	if q < 0 {
		return v
	}
	hdrs := strings.Split(uri[q+1:], "&")
	changed := false
	for i, h := range hdrs {
		k, val, _ := strings.Cut(h, "=")
		if !strings.EqualFold(k, "Replaces") {
			continue
		}
		raw, err := url.PathUnescape(val)
		if err != nil {
			continue
		}
		r, ok := parseReplaces(raw)
		if !ok {
			continue
		}
		hdrs[i] = k + "=" + url.QueryEscape(s.otherLeg(r).String())
		changed = true
	}
	if !changed {
		return v
	}
	return v[:open+1] + uri[:q+1] + strings.Join(hdrs, "&") + v[end:]
}

// fixReplacesInvite puts on the gateway INVITE the transfer headers of the
// caller's: its Replaces (RFC 3891), rewritten to the other leg of the
// call it names when the profile says so, with the caller's Require of
// it, and its Referred-By (RFC 3892), which tells the transfer target who
// referred the caller, as the REFER's does the transferee. A copy a
// profile's header filter made already is replaced, so that neither
// crosses twice, nor a Replaces unrewritten.
func (c *Call) fixReplacesInvite(inA, out *sip.Request) {
	if headerNamed(inA, "Referred-By") != nil {
		for out.RemoveHeader("Referred-By") {
		}
		for h := range headersNamed(inA, "Referred-By") {
			out.AppendHeader(sip.NewHeader("Referred-By", h.Value()))
		}
	}
	h := headerNamed(inA, "Replaces")
	if h == nil {
		return
	}
	v := h.Value()
	if r, ok := parseReplaces(v); ok && c.profile().RewritesInviteReplaces() {
		v = c.sw.otherLeg(r).String()
	}
	for out.RemoveHeader("Replaces") {
	}
	out.AppendHeader(sip.NewHeader("Replaces", v))
	for _, req := range inA.GetHeaders("Require") {
		if strings.Contains(strings.ToLower(req.Value()), "replaces") {
			out.AppendHeader(sip.NewHeader("Require", "replaces"))
			break
		}
	}
}

// subscriptions are the event subscriptions made within a call's dialogs
// by relayed REFERs and SUBSCRIBEs: per notifier (the leg the request was
// sent to), the event packages it may NOTIFY, and the ids of its REFERs'
// subscriptions. Guarded by the call lock; nil until the first one.
type subscriptions struct {
	events map[subKey]bool
	// referIDs translate a REFER subscription's id (RFC 3515 2.4.6: the
	// CSeq of the REFER that made it) between the legs: the notifier
	// names it by the CSeq of the REFER the switch sent it, the referrer
	// by that of its own REFER, and a NOTIFY whose id the referrer does
	// not know is answered 481 (baresip does, and fails the transfer).
	referIDs map[referID]uint32
}

type subKey struct {
	notifierA bool // the notifier is the caller's leg
	event     string
}

// referID is a REFER subscription as its notifier names it.
type referID struct {
	notifierA bool
	seq       uint32 // the CSeq of the REFER the switch sent the notifier
}

// eventPackage is an Event header's package name, lower case, without
// its parameters (a REFER's NOTIFYs may carry id=CSeq or not: RFC 3515
// 2.4.6 lets the first one omit it).
func eventPackage(req *sip.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		if req.Method == sip.REFER {
			return "refer"
		}
		return ""
	}
	ev, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(ev))
}

// subscription is one a relayed REFER or SUBSCRIBE asks for, while its
// answer is awaited.
type subscription struct {
	key   subKey
	known bool    // the call had one of this package from that leg already
	refer referID // the REFER's id as its notifier knows it; zero for a SUBSCRIBE
}

// subscribing notes the subscription a REFER or SUBSCRIBE relayed as out
// asks of notifier, before it is sent: the notifier may NOTIFY before the
// switch has relayed its 2xx (RFC 6665 4.1.2.4: a NOTIFY may overtake the
// 2xx), and that NOTIFY must find the subscription and its id. A REFER
// with "Refer-Sub: false" (RFC 4488) asks for none. Called with the lock
// held.
func (c *Call) subscribing(req, out *sip.Request, notifierA bool) subscription {
	sub := subscription{key: subKey{notifierA, eventPackage(req)}}
	if h := req.GetHeader("Refer-Sub"); h != nil && strings.EqualFold(strings.TrimSpace(h.Value()), "false") {
		sub.known = true // nothing to undo
		return sub
	}
	if c.subs.events == nil {
		c.subs.events = map[subKey]bool{}
	}
	sub.known = c.subs.events[sub.key]
	c.subs.events[sub.key] = true
	if req.Method == sip.REFER {
		if c.subs.referIDs == nil {
			c.subs.referIDs = map[referID]uint32{}
		}
		sub.refer = referID{notifierA, out.CSeq().SeqNo}
		c.subs.referIDs[sub.refer] = req.CSeq().SeqNo
	}
	return sub
}

// subscribed settles a subscription asked for once its answer is in: a
// refused one is forgotten, and an accepted REFER's id is kept under the
// CSeq it was finally sent with (a challenge makes the switch send it
// again, with the next CSeq). Called with the lock held.
func (c *Call) subscribed(sub subscription, sent *sip.Request, accepted bool) {
	if sub.refer != (referID{}) && (!accepted || sent.CSeq().SeqNo != sub.refer.seq) {
		// A NOTIFY ending the subscription may have forgotten it already.
		theirs, ok := c.subs.referIDs[sub.refer]
		delete(c.subs.referIDs, sub.refer)
		if accepted && ok {
			c.subs.referIDs[referID{sub.refer.notifierA, sent.CSeq().SeqNo}] = theirs
		}
	}
	if !accepted && !sub.known {
		delete(c.subs.events, sub.key)
	}
}

// notifyAllowed reports whether a NOTIFY from one leg may be relayed: it
// belongs to a subscription the call relayed, or the profile lets
// subscription-less NOTIFYs through. A NOTIFY ending its subscription
// (Subscription-State: terminated) forgets it. Called with the lock held.
func (c *Call) notifyAllowed(req *sip.Request, fromA bool) bool {
	k := subKey{fromA, eventPackage(req)}
	known := c.subs.events[k]
	if known && terminates(req) {
		delete(c.subs.events, k)
	}
	return known || c.profile().AllowsSublessNotify()
}

// terminates reports whether a NOTIFY ends its subscription.
func terminates(req *sip.Request) bool {
	h := req.GetHeader("Subscription-State")
	return h != nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Value())), "terminated")
}

// referEvent is the Event header a NOTIFY or SUBSCRIBE of a REFER's
// subscription is relayed with: its id translated to the far leg's name
// for the subscription (a NOTIFY from the notifier gets the referrer's
// CSeq, a SUBSCRIBE from the referrer the notifier's), "" when there is
// nothing to translate. A NOTIFY ending the subscription forgets its id.
// Called with the lock held, before notifyAllowed.
func (c *Call) referEvent(req *sip.Request, fromA bool) string {
	h := req.GetHeader("Event")
	if h == nil || eventPackage(req) != "refer" || c.subs.referIDs == nil {
		return ""
	}
	params := strings.Split(h.Value(), ";")
	for i, p := range params[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "id") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return ""
		}
		seq, ok := uint32(0), false
		switch req.Method {
		case sip.NOTIFY:
			key := referID{fromA, uint32(n)}
			if seq, ok = c.subs.referIDs[key]; ok && terminates(req) {
				delete(c.subs.referIDs, key)
			}
		case sip.SUBSCRIBE:
			for id, theirs := range c.subs.referIDs {
				if id.notifierA != fromA && theirs == uint32(n) {
					seq, ok = id.seq, true
					break
				}
			}
		}
		if !ok {
			return ""
		}
		params[i+1] = "id=" + strconv.FormatUint(uint64(seq), 10)
		return strings.Join(params, ";")
	}
	return ""
}
