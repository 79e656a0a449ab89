package b2bua

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// Integration tests of the profile features that shape SDP, headers and
// requests both ways, and of the parallel-call limit: sipgo user agents
// on both sides, assertions on what the gateway receives and what the
// caller receives.

var sdpType = sip.NewHeader("Content-Type", "application/sdp")

// gatewayReplies makes p a gateway that answers every INVITE with a
// provisional response (with provBody as SDP when not empty), then, once
// the caller has seen it (place closes seen), 200 OK with body; both carry
// hdrs. Waiting keeps the provisional from racing the 200: the switch may
// drop a provisional that the 200 follows at once (see the report to the
// lead), and these tests are about what the provisional carries.
func gatewayReplies(p *peer, prov int, provBody, body string, hdrs ...sip.Header) (seen chan struct{}) {
	seen = make(chan struct{}, 1)
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		ds, err := p.dsc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		ph := append([]sip.Header(nil), hdrs...)
		var pb []byte
		if provBody != "" {
			ph, pb = append(ph, sdpType), []byte(provBody)
		}
		if err := ds.Respond(prov, "Progress", pb, ph...); err != nil {
			return
		}
		select {
		case <-seen:
		case <-tx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		ds.Respond(200, "OK", []byte(body), append(append([]sip.Header(nil), hdrs...), sdpType)...)
	})
	return seen
}

// place makes a call with offer as its SDP, waits for the answer, ACKs it
// and returns the dialog with every response the caller received. When
// seen is not nil, it is signalled at the first provisional above 100.
func place(t *testing.T, caller *peer, target sip.Uri, offer string, seen chan<- struct{}, hdrs ...sip.Header) (*sipgo.DialogClientSession, []*sip.Response) {
	t.Helper()
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, target, []byte(offer), append([]sip.Header{sdpType}, hdrs...)...)
	if err != nil {
		t.Fatal(err)
	}
	var got []*sip.Response
	err = ds.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		got = append(got, res)
		if seen != nil && res.StatusCode > 100 && res.StatusCode < 200 {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := ds.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return ds, got
}

// hangUp ends a call from the caller and waits for the gateway's BYE and
// the call's record.
func hangUp(t *testing.T, sw *testSwitch, gw *peer, ds *sipgo.DialogClientSession) cdr.Record {
	t.Helper()
	if err := ds.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	return sw.record(t)
}

func mLine(body string) string {
	for _, l := range strings.Split(body, "\r\n") {
		if strings.HasPrefix(l, "m=") {
			return l
		}
	}
	return ""
}

const g729Offer = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 18 0 8 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n" +
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"

const g729Answer = "v=0\r\no=callee 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 50000 RTP/AVP 8 18 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"

// TestProfileCodecPreferenceExample: the codec filter and the preferences
// shape the offer the gateway receives and the SDP the caller receives,
// in the 183 as in the 200.
func TestProfileCodecPreferenceExample(t *testing.T) {
	gw := newPeer(t, "gw")
	seen := gatewayReplies(gw, 183, g729Answer, g729Answer)
	sw := startSwitch(t, routeTo(gw)+example(t, "codecpref"))
	ds, responses := place(t, newPeer(t, "caller"), sw.uri("100"), g729Offer, seen)
	inv := gw.invites()[0]
	if got := mLine(string(inv.Body())); got != "m=audio 40000 RTP/AVP 8 0 101" || strings.Contains(string(inv.Body()), "G729") {
		t.Errorf("gateway offer %q:\n%s", got, inv.Body())
	}
	var early *sip.Response
	for _, r := range responses {
		if r.StatusCode == 183 {
			early = r
		}
	}
	for _, r := range []*sip.Response{early, ds.InviteResponse} {
		if r == nil {
			t.Fatal("no 183 reached the caller")
		}
		body := string(r.Body())
		if got := mLine(body); got != "m=audio 50000 RTP/AVP 0 8 101" || strings.Contains(body, "G729") || strings.Contains(body, "annexb") {
			t.Errorf("%d to the caller %q:\n%s", r.StatusCode, got, body)
		}
	}
	hangUp(t, sw, gw, ds)
}

// TestProfileCodecFilterAnswerNeverRefused: a gateway answering only
// codecs the filter denies still connects; its SDP is relayed unchanged.
func TestProfileCodecFilterAnswerNeverRefused(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil) // answers PCMU whatever it was offered
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: [pcma]}
profiles:
  - {name: pcma, codec_filter: whitelist, codecs: [PCMA]}
`)
	ds, _ := place(t, newPeer(t, "caller"), sw.uri("100"), sdpOffer, nil)
	if got := mLine(string(gw.invites()[0].Body())); got != "m=audio 40000 RTP/AVP 8 101" {
		t.Errorf("gateway offer %q", got)
	}
	if got := string(ds.InviteResponse.Body()); got != sdpAnswer {
		t.Errorf("caller got\n%s\nwant the gateway's answer unchanged", got)
	}
	if r := hangUp(t, sw, gw, ds); r.SIPCode != 200 || r.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("record = %+v", r)
	}
}

// TestProfileSDPAnonymizeExample: neither side learns who wrote the other
// side's SDP.
func TestProfileSDPAnonymizeExample(t *testing.T) {
	offer := "v=0\r\no=alice 123 456 IN IP4 192.0.2.55\r\ns=Alice's phone\r\ni=call from alice\r\n" +
		"u=http://alice.example/\r\ne=alice@example.com\r\np=+1 555 0100\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 101\r\ni=alice's mic\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	answer := "v=0\r\no=carrier-gw 7 8 IN IP4 198.51.100.9\r\ns=Carrier X SBC\r\ne=noc@carrier.example\r\n" +
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 101\r\ni=trunk 42\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n"
	gw := newPeer(t, "gw")
	seen := gatewayReplies(gw, 183, answer, answer)
	sw := startSwitch(t, routeTo(gw)+example(t, "sdp_anonymize"))
	ds, responses := place(t, newPeer(t, "caller"), sw.uri("100"), offer, seen)

	want := "v=0\r\no=- 123 456 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	if got := string(gw.invites()[0].Body()); got != want {
		t.Errorf("gateway got\n%s\nwant\n%s", got, want)
	}
	want = "v=0\r\no=- 7 8 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 50000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	n := 0
	for _, r := range append(responses, ds.InviteResponse) {
		if len(r.Body()) > 0 {
			n++
			if got := string(r.Body()); got != want {
				t.Errorf("%d to the caller:\n%s\nwant\n%s", r.StatusCode, got, want)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d responses with SDP reached the caller, want the 183 and the 200", n)
	}
	hangUp(t, sw, gw, ds)
}

// TestProfileHeaderFilterReplies: the profile's header filter also decides
// which of the gateway's response headers reach the caller, in the
// provisional as in the 200, and headers of one leg never cross.
func TestProfileHeaderFilterReplies(t *testing.T) {
	gw := newPeer(t, "gw")
	seen := gatewayReplies(gw, 180, "", sdpAnswer, sip.NewHeader("X-Keep", "k"), sip.NewHeader("X-Drop", "d"),
		sip.NewHeader("X-Other", "o"), sip.NewHeader("Supported", "100rel, timer"),
		sip.NewHeader("Session-Expires", "1800;refresher=uas"), sip.NewHeader("P-Asserted-Identity", "<sip:+4930@carrier.example>"))
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: ["$H(X-Profile)"]}
profiles:
  - {name: white, header_filter: whitelist, header_list: [X-Keep, Supported, Contact]}
  - {name: black, header_filter: blacklist, header_list: [X-Drop]}
  - {name: transparent, header_filter: transparent}
  - {name: none, append_headers: ["X-Added: 1"]}
`)
	caller := newPeer(t, "caller")
	cases := []struct {
		profile string
		want    map[string]string // header => value, "" = absent
	}{
		{"white", map[string]string{"X-Keep": "k", "X-Drop": "", "X-Other": "", "P-Asserted-Identity": ""}},
		{"black", map[string]string{"X-Keep": "k", "X-Drop": "", "X-Other": "o", "P-Asserted-Identity": "<sip:+4930@carrier.example>"}},
		{"transparent", map[string]string{"X-Keep": "k", "X-Drop": "d", "X-Other": "o"}},
		{"none", map[string]string{"X-Keep": "", "X-Other": "", "P-Asserted-Identity": ""}},
	}
	for _, tc := range cases {
		ds, responses := place(t, caller, sw.uri("100"), sdpOffer, seen, sip.NewHeader("X-Profile", tc.profile))
		var ringing *sip.Response
		for _, r := range responses {
			if r.StatusCode == 180 {
				ringing = r
			}
		}
		if ringing == nil {
			t.Fatalf("%s: no 180 reached the caller", tc.profile)
		}
		for _, r := range []*sip.Response{ringing, ds.InviteResponse} {
			for name, want := range tc.want {
				if got := hdrValue(r, name); got != want {
					t.Errorf("%s: %d to the caller has %s %q, want %q", tc.profile, r.StatusCode, name, got, want)
				}
			}
			// Extensions and session timers are negotiated per leg, and
			// the dialog headers are the switch's own.
			if hdrValue(r, "Supported") != "" || hdrValue(r, "Session-Expires") != "" ||
				len(r.GetHeaders("Contact")) != 1 || len(r.GetHeaders("Via")) != 1 {
				t.Errorf("%s: a leg header crossed:\n%s", tc.profile, r.String())
			}
		}
		hangUp(t, sw, gw, ds)
	}
}

// callerRequest sends a request of method within the caller's dialog and
// returns the final response's code.
func callerRequest(t *testing.T, ds *sipgo.DialogClientSession, method sip.RequestMethod) int {
	t.Helper()
	res, err := ds.Do(within(t, 10*time.Second), sip.NewRequest(method, ds.InviteResponse.Contact().Address))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res.StatusCode
}

func received(p *peer, method sip.RequestMethod) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.received {
		if r.Method == method {
			n++
		}
	}
	return n
}

// TestProfileMessageFilterExample: blacklisted requests are answered 405
// by the switch whichever side sends them and reach nobody; the others
// are relayed, and the call still ends with BYE.
func TestProfileMessageFilterExample(t *testing.T) {
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw)+example(t, "messagefilter"))
	caller := newPeer(t, "caller")
	ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gds := <-sessions
	gw.waitRequest(sip.ACK, 5*time.Second)
	waitSettled(t, sw)

	if code := callerRequest(t, ds, sip.INFO); code != 405 {
		t.Errorf("caller's INFO answered %d, want 405", code)
	}
	res, err := gds.Do(within(t, 10*time.Second), sip.NewRequest(sip.INFO, gds.InviteRequest.Contact().Address))
	if err != nil || res.StatusCode != 405 {
		t.Fatalf("gateway's INFO answered %v (%v), want 405", res, err)
	}
	if allow := hdrValue(res, "Allow"); !strings.Contains(allow, "OPTIONS") || strings.Contains(allow, "INFO") ||
		strings.Contains(allow, "REFER") || !strings.Contains(allow, "BYE") {
		t.Errorf("405 Allow: %q, want the methods the filter lets through", allow)
	}
	if code := callerRequest(t, ds, sip.OPTIONS); code != 200 {
		t.Errorf("caller's OPTIONS answered %d, want it relayed and answered 200", code)
	}
	if n := received(gw, sip.OPTIONS); n != 1 {
		t.Errorf("gateway got %d OPTIONS", n)
	}
	if gwInfo, callerInfo := received(gw, sip.INFO), received(caller, sip.INFO); gwInfo != 0 || callerInfo != 0 {
		t.Errorf("a filtered INFO was relayed: gateway got %d, caller %d", gwInfo, callerInfo)
	}
	if r := hangUp(t, sw, gw, ds); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("record = %+v", r)
	}
}

// TestProfileMessageFilterWhitelist: only the listed methods pass; ACK and
// BYE, unlisted, still do.
func TestProfileMessageFilterWhitelist(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: [only-info]}
profiles:
  - {name: only-info, message_filter: whitelist, message_list: [info]}
`)
	caller := newPeer(t, "caller")
	ds, err := caller.call(within(t, 20*time.Second), sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.ACK, 5*time.Second)
	waitSettled(t, sw)
	if code := callerRequest(t, ds, sip.OPTIONS); code != 405 {
		t.Errorf("OPTIONS answered %d, want 405", code)
	}
	if code := callerRequest(t, ds, sip.INFO); code != 200 {
		t.Errorf("INFO answered %d, want 200", code)
	}
	if received(gw, sip.OPTIONS) != 0 || received(gw, sip.INFO) != 1 {
		t.Errorf("gateway got %d OPTIONS and %d INFO", received(gw, sip.OPTIONS), received(gw, sip.INFO))
	}
	hangUp(t, sw, gw, ds)
}

// limitGateway answers by called number: "busy" is refused 486, "ring"
// rings until cancelled, anything else is answered.
func limitGateway(p *peer) {
	p.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		switch req.Recipient.User {
		case "busy":
			tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
		case "ring":
			tx.OnCancel(func(*sip.Request) { p.cancelled <- req })
			tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
			<-tx.Done()
		default:
			ds, err := p.dsc.ReadInvite(req, tx)
			if err != nil {
				return
			}
			ds.RespondSDP([]byte(sdpAnswer))
		}
	})
}

// cancelWhileRinging places a call and cancels it once it rings.
func cancelWhileRinging(t *testing.T, caller *peer, target sip.Uri) {
	t.Helper()
	ctx := within(t, 20*time.Second)
	ds, err := caller.dcc.Invite(ctx, target, []byte(sdpOffer), sdpType)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ringing := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- ds.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
			if res.StatusCode == 180 {
				once.Do(func() { close(ringing) })
			}
			return nil
		}})
	}()
	select {
	case <-ringing:
	case err := <-errc:
		t.Fatalf("call ended before ringing: %v", err)
	}
	cancel() // sipgo sends CANCEL when the wait is cancelled after a provisional
	if err := <-errc; err == nil {
		t.Fatal("a cancelled call was answered")
	}
}

// TestProfileLimitExample: with max_calls 2 per From URI, a third call is
// refused with the profile's reply before any gateway sees it; another
// caller is not affected; every way a call ends (BYE, a gateway's
// failure, CANCEL) gives its slot back exactly once.
func TestProfileLimitExample(t *testing.T) {
	gw := newPeer(t, "gw")
	limitGateway(gw)
	sw := startSwitch(t, routeTo(gw)+example(t, "limit"))
	alice, bob := newPeer(t, "alice"), newPeer(t, "bob")

	first, _ := place(t, alice, sw.uri("100"), sdpOffer, nil)
	// A failed call and a cancelled one count while they last and give
	// their slot back once: were it given back twice, the third call
	// below would get through.
	if res := failedCall(t, alice, sw.uri("busy")); res.StatusCode != 486 || res.Reason != "Busy Here" {
		t.Fatalf("busy call: %d %s", res.StatusCode, res.Reason)
	}
	if r := sw.record(t); r.SIPCode != 486 {
		t.Fatalf("record = %+v", r)
	}
	cancelWhileRinging(t, alice, sw.uri("ring"))
	gw.waitCancelled(5 * time.Second)
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonCancelled {
		t.Fatalf("record = %+v", r)
	}
	second, _ := place(t, alice, sw.uri("100"), sdpOffer, nil)

	invites := len(gw.invites())
	res := failedCall(t, alice, sw.uri("100"))
	if res.StatusCode != 486 || res.Reason != "Too Many Calls For alice" {
		t.Errorf("third call of alice: %d %s", res.StatusCode, res.Reason)
	}
	if r := sw.record(t); r.SIPCode != 486 || r.DisconnectReason != cdr.ReasonRejected {
		t.Errorf("record = %+v", r)
	}
	if n := len(gw.invites()); n != invites {
		t.Errorf("the refused call reached the gateway (%d INVITEs, want %d)", n, invites)
	}
	other, _ := place(t, bob, sw.uri("100"), sdpOffer, nil)

	hangUp(t, sw, gw, first)
	again, _ := place(t, alice, sw.uri("100"), sdpOffer, nil)
	for _, ds := range []*sipgo.DialogClientSession{second, other, again} {
		hangUp(t, sw, gw, ds)
	}
}

// TestProfileLimitEmptyKeyRefuses: a key that expands to nothing cannot
// count the call: it is refused 500, as SEMS does, not let through.
func TestProfileLimitEmptyKeyRefuses(t *testing.T) {
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+`
profile_select: {selectors: [keyed]}
profiles:
  - {name: keyed, limit: {key: "$H(X-Customer)", max_calls: 1}}
`)
	caller := newPeer(t, "caller")
	if res := failedCall(t, caller, sw.uri("100")); res.StatusCode != 500 {
		t.Errorf("call without X-Customer: %d %s, want 500", res.StatusCode, res.Reason)
	}
	sw.record(t)
	ds, _ := place(t, caller, sw.uri("100"), sdpOffer, nil, sip.NewHeader("X-Customer", "acme-limit-test"))
	res := failedCall(t, caller, sw.uri("100"), sip.NewHeader("X-Customer", "acme-limit-test"))
	if res.StatusCode != 402 || res.Reason != "Too Many Simultaneous Calls" {
		t.Errorf("second acme call: %d %s, want SEMS's 402", res.StatusCode, res.Reason)
	}
	sw.record(t)
	hangUp(t, sw, gw, ds)
	// Released at the hang-up: the next acme call has the one slot.
	again, _ := place(t, caller, sw.uri("100"), sdpOffer, nil, sip.NewHeader("X-Customer", "acme-limit-test"))
	hangUp(t, sw, gw, again)
}
