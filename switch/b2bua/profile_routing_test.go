package b2bua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/tollgate/tollgate/cdr"
)

// challenging makes the peer a gateway that wants digest authentication:
// an INVITE without credentials gets code (401 or 407) and a challenge; one
// with the right credentials is answered; wrong ones get 403. The
// challenged INVITEs are counted in the peer's received requests.
func (p *peer) challenging(code int, user, password string) {
	challengeHdr, authHdr := "WWW-Authenticate", "Authorization"
	if code == 407 {
		challengeHdr, authHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	chal := &digest.Challenge{Realm: "gw." + p.name, Nonce: "n0nce-" + p.name, Algorithm: "MD5", QOP: []string{"auth"}}
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		h := req.GetHeader(authHdr)
		if h == nil {
			res := sip.NewResponseFromRequest(req, code, "Authentication Required", nil)
			res.AppendHeader(sip.NewHeader(challengeHdr, chal.String()))
			tx.Respond(res)
			return
		}
		cred, err := digest.ParseCredentials(h.Value())
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Credentials", nil))
			return
		}
		want, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: cred.URI, Username: user,
			Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
		if err != nil || cred.Username != user || cred.Response != want.Response || cred.URI != req.Recipient.Addr() {
			tx.Respond(sip.NewResponseFromRequest(req, 403, "Wrong Credentials", nil))
			return
		}
		ds, err := p.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ds.RespondSDP([]byte(sdpAnswer))
	})
}

// TestProfileNextHopFailover: a profile's next hops replace the route's
// gateways, in order, with failover between them.
func TestProfileNextHopFailover(t *testing.T) {
	routeGW, hop1, hop2 := newPeer(t, "routegw"), newPeer(t, "hop1"), newPeer(t, "hop2")
	routeGW.answer(0, nil)
	hop1.reject(503, "Service Unavailable")
	hop2.answer(0, nil)
	sw := startSwitch(t, routeTo(routeGW)+fmt.Sprintf(`profile_select:
  selectors: [nexthop]
profiles:
  - name: nexthop
    next_hop: [%q, "$H(X-Next-Hop)"]
`, hop1.addr()))
	inv := gwInvite(t, sw, hop2, newPeer(t, "caller"), "100", sip.NewHeader("X-Next-Hop", hop2.addr()))
	if inv.Recipient.Host != "127.0.0.1" || inv.Recipient.Port != hop2.port {
		t.Errorf("R-URI %s, want hop2", inv.Recipient.String())
	}
	if n := len(hop1.invites()); n != 1 {
		t.Errorf("hop1 got %d INVITEs, want 1", n)
	}
	if n := len(routeGW.invites()); n != 0 {
		t.Errorf("the route's gateway got %d INVITEs, want 0", n)
	}
}

// TestProfileNextHopWithoutRoute: a call no route matches still goes to
// the profile's next hop.
func TestProfileNextHopWithoutRoute(t *testing.T) {
	hop := newPeer(t, "hop")
	hop.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf(`routes:
  - {prefix: "999", gateways: [{address: "127.0.0.1:9"}]}
profile_select:
  selectors: [nexthop]
profiles:
  - name: nexthop
    next_hop: ["%s;transport=tcp"]
`, hop.addr()))
	inv := gwInvite(t, sw, hop, newPeer(t, "caller"), "100")
	if !strings.EqualFold(inv.Transport(), "TCP") {
		t.Errorf("INVITE over %s, want TCP", inv.Transport())
	}
}

// TestProfileOutboundProxy: the gateway INVITE goes to the outbound proxy
// with a loose Route, its Request-URI still naming the gateway.
func TestProfileOutboundProxy(t *testing.T) {
	proxy := newPeer(t, "proxy")
	proxy.answer(0, nil)
	sw := startSwitch(t, `routes:
  - {prefix: "", gateways: [{address: "192.0.2.10:5070"}]}
`+fmt.Sprintf(`profile_select:
  selectors: [op]
profiles:
  - name: op
    outbound_proxy: "sip:%s"
`, proxy.addr()))
	inv := gwInvite(t, sw, proxy, newPeer(t, "caller"), "100")
	if got := inv.Recipient.Host + ":" + itoa(inv.Recipient.Port); got != "192.0.2.10:5070" {
		t.Errorf("R-URI %s, want the gateway", inv.Recipient.String())
	}
	if got, want := hdrValue(inv, "Route"), "<sip:"+proxy.addr()+";lr>"; got != want {
		t.Errorf("Route %q, want %q", got, want)
	}
}

// TestProfileAuthB2BExample: the gateway's challenge is answered with the
// profile's credentials (SEMS auth_b2b), on the same dialog with the next
// CSeq; wrong credentials fail the call with 403, never a challenge to the
// caller.
func TestProfileAuthB2BExample(t *testing.T) {
	for _, code := range []int{401, 407} {
		t.Run(itoa(code), func(t *testing.T) {
			gw := newPeer(t, "gw")
			gw.challenging(code, "trunk7", "s3cret")
			sw := startSwitch(t, routeTo(gw)+example(t, "auth_b2b"))
			caller := newPeer(t, "caller")
			gwInvite(t, sw, gw, caller, "100", sip.NewHeader("P-App-Param", "u=trunk7;p=s3cret"))
			invs := gw.invites()
			if len(invs) != 2 {
				t.Fatalf("gateway got %d INVITEs, want 2", len(invs))
			}
			first, ok := invs[0], invs[1]
			if first.CallID().Value() != ok.CallID().Value() || ok.CSeq().SeqNo != first.CSeq().SeqNo+1 ||
				branch(first) == branch(ok) {
				t.Errorf("retry: Call-ID %s→%s CSeq %d→%d", first.CallID().Value(), ok.CallID().Value(),
					first.CSeq().SeqNo, ok.CSeq().SeqNo)
			}
			res := failedCall(t, caller, sw.uri("100"), sip.NewHeader("P-App-Param", "u=trunk7;p=wrong"))
			if res.StatusCode != 403 {
				t.Errorf("wrong password: caller got %d %s, want 403", res.StatusCode, res.Reason)
			}
			if r := sw.record(t); r.SIPCode != 403 || len(r.Attempts) != 1 || r.Attempts[0].SIPCode != 403 {
				t.Errorf("record: %d, attempts %+v", r.SIPCode, r.Attempts)
			}
		})
	}
}

// TestProfileChallengeWithoutCredentials: a gateway's challenge with no
// credentials to answer it fails that gateway (the hunt goes on) and is
// never relayed to the caller.
func TestProfileChallengeWithoutCredentials(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.challenging(407, "x", "y")
	sw := startSwitch(t, routeTo(gw))
	res := failedCall(t, newPeer(t, "caller"), sw.uri("100"))
	if res.StatusCode != 403 || res.GetHeader("Proxy-Authenticate") != nil {
		t.Errorf("caller got %d %s", res.StatusCode, res.Reason)
	}
	sw.record(t)
}

// TestProfileSymmetricRTPExample: the profile anchors the media of its calls
// on the built-in relay while the route and the switch say none.
func TestProfileSymmetricRTPExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	lo, hi := freeMediaRange(t, 8)
	sw, _ := startMediaSwitch(t, routeTo(gw)+fmt.Sprintf("media:\n  mode: none\n  builtin:\n    port_min: %d\n    port_max: %d\n", lo, hi)+
		example(t, "symmetricrtp"))
	inv := gwInvite(t, sw, gw, newPeer(t, "caller"), "100")
	body := string(inv.Body())
	var port int
	for _, line := range strings.Split(body, "\r\n") {
		if strings.HasPrefix(line, "m=audio ") {
			fmt.Sscanf(line, "m=audio %d", &port)
		}
	}
	if port < lo || port > hi {
		t.Errorf("gateway offer not anchored on the relay (%d-%d):\n%s", lo, hi, body)
	}
}

// TestProfileOverridesAAA: profiles decide RADIUS authorisation, prepaid
// and accounting for their calls on a switch that authorises every call by
// source IP with a 30 s credit.
func TestProfileOverridesAAA(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	fr := startRadius(t, `"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=30",
	h323-return-code = "h323-return-code=0"
`)
	profiles := `profile_select:
  selectors: ["$H(X-Profile)"]
profiles:
  - {name: open, auth: none}
  - {name: postpaid, prepaid: false, accounting: false}
  - {name: billed}
`
	sw := startAAASwitch(t, routeTo(gw)+radiusYAML(fr, "  auth: ip\n")+profiles)
	caller := newPeer(t, "caller")
	call := func(profile string) cdr.Record {
		_, rec := gwCall(t, sw, gw, caller, "100", sip.NewHeader("X-Profile", profile))
		return rec
	}
	open, postpaid, billed := call("open"), call("postpaid"), call("billed")
	if open.Account != "" || open.CreditGranted != 0 {
		t.Errorf("open: account %q credit %v, want no RADIUS", open.Account, open.CreditGranted)
	}
	if postpaid.Account != "127.0.0.1" || postpaid.CreditGranted != 0 {
		t.Errorf("postpaid: account %q credit %v, want authorised without credit", postpaid.Account, postpaid.CreditGranted)
	}
	if billed.Account != "127.0.0.1" || billed.CreditGranted != 30*time.Second {
		t.Errorf("billed: account %q credit %v", billed.Account, billed.CreditGranted)
	}
	waitAcct(t, fr, billed.CallIDA, count("Stop", "", 2))
	all, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	if recs := ofCall(all, postpaid.CallIDA); len(recs) != 0 {
		t.Errorf("the postpaid call was accounted: %d records", len(recs))
	}
}

func branch(req *sip.Request) string {
	b, _ := req.Via().Params.Get("branch")
	return b
}

// TestProfilePrepaidExample: the prepaid profile authorises by source IP
// on a switch whose routes need no authorisation, and the granted credit
// cuts the connected call.
func TestProfilePrepaidExample(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	fr := startRadius(t, `"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=1",
	h323-return-code = "h323-return-code=0"
`)
	sw := startAAASwitch(t, routeTo(gw)+radiusYAML(fr, "  auth: none\n")+example(t, "prepaid"))
	caller := newPeer(t, "caller")
	if _, err := caller.call(within(t, 20*time.Second), sw.uri("100")); err != nil {
		t.Fatal(err)
	}
	caller.waitRequest(sip.BYE, 10*time.Second)
	gw.waitRequest(sip.BYE, 10*time.Second)
	rec := sw.record(t)
	if rec.DisconnectReason != cdr.ReasonCreditExpired || rec.CreditGranted != time.Second || rec.Account != "127.0.0.1" {
		t.Errorf("record: reason %q credit %v account %q", rec.DisconnectReason, rec.CreditGranted, rec.Account)
	}
	waitAcct(t, fr, rec.CallIDA, count("Stop", "", 2))
}

// challengeInDialog answers requests within a dialog like a peer that wants
// digest authentication for each: 401 without credentials, 200 with the
// right ones, 403 with wrong ones. The requests reach got.
func challengeInDialog(name, user, password string, got chan<- *sip.Request) func(*sip.Request, sip.ServerTransaction) {
	chal := &digest.Challenge{Realm: name, Nonce: "in-dialog-" + name, Algorithm: "MD5"}
	return func(req *sip.Request, tx sip.ServerTransaction) {
		got <- req
		h := req.GetHeader("Authorization")
		if h == nil {
			res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
			tx.Respond(res)
			return
		}
		cred, err := digest.ParseCredentials(h.Value())
		want, derr := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(),
			Username: user, Password: password})
		if err != nil || derr != nil || cred.Username != user || cred.Response != want.Response {
			tx.Respond(sip.NewResponseFromRequest(req, 403, "Wrong Credentials", nil))
			return
		}
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
}

// TestProfileAuthPerLegInDialog: requests the switch relays within the
// dialog answer each leg's challenge with that leg's credentials — the
// gateway's (gateway_auth) toward the gateway, the caller's (caller_auth)
// toward the caller.
func TestProfileAuthPerLegInDialog(t *testing.T) {
	gwGot, callerGot := make(chan *sip.Request, 10), make(chan *sip.Request, 10)
	gw := startPeer(t, "gw", challengeInDialog("gw", "to-gw", "gw-pw", gwGot))
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw)+`profile_select:
  selectors: [legs]
profiles:
  - name: legs
    gateway_auth: {user: to-gw, password: gw-pw}
    caller_auth: {user: "to-$fU", password: caller-pw}
`)
	caller := startPeer(t, "caller", challengeInDialog("caller", "to-caller", "caller-pw", callerGot))
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gs := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)

	res, err := ds.Do(ctx, newInfo(ds))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("caller's INFO: %v %v", res, err)
	}
	if first, retry := <-gwGot, <-gwGot; first.GetHeader("Authorization") != nil || retry.CSeq().SeqNo != first.CSeq().SeqNo+1 {
		t.Errorf("gateway got CSeq %d then %d", first.CSeq().SeqNo, retry.CSeq().SeqNo)
	}
	res, err = gs.Do(ctx, sip.NewRequest(sip.INFO, gs.InviteRequest.Contact().Address))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("gateway's INFO: %v %v", res, err)
	}
	if first, retry := <-callerGot, <-callerGot; first.GetHeader("Authorization") != nil || retry.GetHeader("Authorization") == nil {
		t.Error("the caller's challenge was not answered")
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}

// TestProfileShapesInDialog: a re-INVITE is shaped like the initial
// INVITE — anonymised SDP, codec preference, header filter — so a later
// offer gives away nothing the first one hid.
func TestProfileShapesInDialog(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`profile_select:
  selectors: [shape]
profiles:
  - name: shape
    sdp_anonymize: true
    codec_preference: [PCMA]
    header_filter: whitelist
    header_list: [X-Trace]
`)
	caller := newPeer(t, "caller")
	ctx := within(t, 20*time.Second)
	ds, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.INVITE, 5*time.Second)
	gw.waitRequest(sip.ACK, 5*time.Second)
	waitSettled(t, sw)

	offer := strings.Replace(sdpOffer, "o=caller 1 1 IN IP4 127.0.0.1", "o=alice 1 2 IN IP4 192.0.2.55", 1)
	req := sip.NewRequest(sip.INVITE, ds.InviteResponse.Contact().Address)
	req.SetBody([]byte(offer))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("X-Trace", "t1"))
	req.AppendHeader(sip.NewHeader("X-Secret", "s1"))
	res, err := ds.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %v %v", res, err)
	}
	if err := ds.WriteAck(ctx, ackFor(req, res)); err != nil {
		t.Fatal(err)
	}
	got := gw.waitRequest(sip.INVITE, 5*time.Second)
	body := string(got.Body())
	if !strings.Contains(body, "o=- 1 2 IN IP4 127.0.0.1\r\n") || strings.Contains(body, "alice") ||
		!strings.Contains(body, "m=audio 40000 RTP/AVP 8 0 101\r\n") {
		t.Errorf("gateway's re-INVITE SDP:\n%s", body)
	}
	if hdrValue(got, "X-Trace") != "t1" || got.GetHeader("X-Secret") != nil {
		t.Errorf("gateway's re-INVITE headers:\n%s", got)
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}
