package b2bua

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// redirectTo makes p a gateway that answers every INVITE 302 with a
// Contact naming user at to.
func (p *peer) redirectTo(user string, to *peer) {
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 302, "Moved Temporarily", nil)
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: to.port}})
		tx.Respond(res)
	})
}

// redirectFailure places a call that must fail, and returns the caller's
// final response.
func redirectFailure(t *testing.T, caller *peer, target sip.Uri) *sip.Response {
	t.Helper()
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, target, []byte(sdpOffer), sdpType)
	if err != nil {
		t.Fatal(err)
	}
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) {
		t.Fatalf("call: %v, want a failure", err)
	}
	return de.Res
}

// TestRedirectFollowed: with redirect: follow, a 302's Contact is tried as
// the next gateway (the Request-URI its user), and the call's record has
// both attempts.
func TestRedirectFollowed(t *testing.T) {
	t.Parallel()
	first, moved := newPeer(t, "first"), newPeer(t, "moved")
	first.redirectTo("4930999", moved)
	moved.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf("routes: [{prefix: \"\", redirect: follow, gateways: [{address: %q}]}]\n", first.addr()))
	ds, _ := place(t, newPeer(t, "caller"), sw.uri("100"), sdpOffer, nil)
	if invs := moved.invites(); len(invs) != 1 || invs[0].Recipient.User != "4930999" {
		t.Fatalf("the redirect target got %d INVITEs (%v)", len(invs), invs)
	}
	r := hangUp(t, sw, moved, ds)
	if len(r.Attempts) != 2 || r.Attempts[0].Gateway != first.addr() || r.Attempts[0].SIPCode != 302 ||
		r.Attempts[1].Gateway != moved.addr() || r.CalledSent != "4930999" {
		t.Errorf("record: called_sent %q, attempts %+v", r.CalledSent, r.Attempts)
	}
}

// TestRedirectLoopBounded: gateways redirecting to each other are
// followed max_redirects times, then the caller gets the last 302 with its
// Contact.
func TestRedirectLoopBounded(t *testing.T) {
	t.Parallel()
	a, b := newPeer(t, "a"), newPeer(t, "b")
	a.redirectTo("toB", b)
	b.redirectTo("toA", a)
	sw := startSwitch(t, fmt.Sprintf("routes: [{prefix: \"\", redirect: follow, max_redirects: 2, gateways: [{address: %q}]}]\n", a.addr()))
	res := redirectFailure(t, newPeer(t, "caller"), sw.uri("100"))
	if res.StatusCode != 302 || res.Contact() == nil || res.Contact().Address.User != "toB" {
		t.Fatalf("caller got %d with Contact %v, want the last 302 with its Contact", res.StatusCode, res.Contact())
	}
	if r := sw.record(t); len(r.Attempts) != 3 {
		t.Errorf("%d attempts, want 3 (the first gateway and max_redirects 2): %+v", len(r.Attempts), r.Attempts)
	}
}

// TestRedirectRelayedWithContact: by default a 302 ends the hunt and the
// caller gets it with the gateway's Contact; the next gateway is not
// tried.
func TestRedirectRelayedWithContact(t *testing.T) {
	t.Parallel()
	first, moved, next := newPeer(t, "first"), newPeer(t, "moved"), newPeer(t, "next")
	first.redirectTo("4930999", moved)
	next.answer(0, nil)
	sw := startSwitch(t, routeTo(first, next))
	res := redirectFailure(t, newPeer(t, "caller"), sw.uri("100"))
	c := res.Contact()
	if res.StatusCode != 302 || c == nil || c.Address.User != "4930999" || c.Address.Port != moved.port {
		t.Fatalf("caller got %d with Contact %v, want 302 with the gateway's Contact", res.StatusCode, c)
	}
	if n := len(next.invites()) + len(moved.invites()); n != 0 {
		t.Errorf("%d INVITEs after the relayed redirect", n)
	}
	if r := sw.record(t); len(r.Attempts) != 1 || r.SIPCode != 302 {
		t.Errorf("record: %d, attempts %+v", r.SIPCode, r.Attempts)
	}
}

// TestRedirectHopsOrder: the targets of a followed 3xx, without a network:
// best q first, listed order among equals, non-SIP targets skipped, the
// transport and default port read from the URI, at most max_redirects.
func TestRedirectHopsOrder(t *testing.T) {
	contact := func(uri, q string) sip.ContactHeader {
		var u sip.Uri
		if err := sip.ParseUri(uri, &u); err != nil {
			t.Fatal(err)
		}
		ch := sip.ContactHeader{Address: u, Params: sip.NewParams()}
		if q != "" {
			ch.Params.Add("q", q)
		}
		return ch
	}
	route := &config.Route{Redirect: config.RedirectFollow, MaxRedirects: 3}
	c := &Call{ID: "t", sw: &Switch{log: slog.New(slog.DiscardHandler)}, route: route}
	r := &attemptResult{code: 302, contacts: []sip.ContactHeader{
		contact("sip:low@192.0.2.1:5070", "0.1"),
		contact("tel:+4930123", ""),
		contact("sip:first@192.0.2.2;transport=tcp", ""),
		contact("sip:second@192.0.2.3:5080", "1.0"),
		contact("sip:over@192.0.2.4", "0.05"),
	}}
	followed := 0
	hops := c.redirectHops(hop{route: route}, r, &followed)
	var got []string
	for _, h := range hops {
		got = append(got, h.target.User+"@"+h.gw.Address+"/"+h.gw.Transport)
	}
	want := []string{"first@192.0.2.2:5060/tcp", "second@192.0.2.3:5080/udp", "low@192.0.2.1:5070/udp"}
	if !slices.Equal(got, want) || followed != 3 {
		t.Errorf("hops %v (followed %d), want %v", got, followed, want)
	}
	if more := c.redirectHops(hop{route: route}, r, &followed); len(more) != 0 {
		t.Errorf("past max_redirects: %d more hops", len(more))
	}
	route.Redirect = config.RedirectRelay
	followed = 0
	if more := c.redirectHops(hop{route: route}, r, &followed); len(more) != 0 {
		t.Errorf("relay: %d hops", len(more))
	}
}

// TestRedirectFollowedByProfile: a profile's redirect: follow overrides
// its route's default relay.
func TestRedirectFollowedByProfile(t *testing.T) {
	t.Parallel()
	first, moved := newPeer(t, "first"), newPeer(t, "moved")
	first.redirectTo("4930999", moved)
	moved.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf(`routes: [{prefix: "", gateways: [{address: %q}]}]
profile_select: {selectors: [follower]}
profiles:
  - {name: follower, redirect: follow}
`, first.addr()))
	ds, _ := place(t, newPeer(t, "caller"), sw.uri("100"), sdpOffer, nil)
	if r := hangUp(t, sw, moved, ds); len(r.Attempts) != 2 {
		t.Errorf("attempts %+v, want the redirect followed", r.Attempts)
	}
}
