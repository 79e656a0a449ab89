package b2bua

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// startDynAuth serves RFC 5176 requests from 127.0.0.1 for sw, as
// cmd/tollgate wires it.
func startDynAuth(t *testing.T, sw *testSwitch, secret string) string {
	t.Helper()
	srv, err := aaa.ListenDynAuth(aaa.DynAuthConfig{Listen: "127.0.0.1:0", Logger: testLogger(t),
		Clients: []aaa.DynAuthClient{{Addr: netip.MustParseAddr("127.0.0.1"), Secret: secret}}}, sw.Switch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr().String()
}

// TestRadiusDisconnectAndCoA: radclient, as a billing server would, changes
// a live call's credit and interim interval with a CoA-Request, then ends
// another call with a Disconnect-Request: both legs get a BYE, each leg its
// Stop, the record its reason. A wrong secret is ignored; a session that is
// gone gets a NAK with Error-Cause 503.
func TestRadiusDisconnectAndCoA(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw.answer(0, sessions)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=600",
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n  accounting: {interim_min: 1s}\n"))
	const secret = "dynauth-secret"
	dyn := startDynAuth(t, sw, secret)
	caller := newPeer(t, "caller")
	ctx := within(t, 60*time.Second)
	const ma = "Message-Authenticator = 0x00\n"

	// 1. CoA: 2 s of credit left from now, Interim-Update every second.
	first, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	callID := first.InviteRequest.CallID().Value()
	changed := time.Now()
	reply, out := testenv.Radclient(t, dyn, "coa", secret, fmt.Sprintf(
		"Acct-Session-Id = %q\nh323-credit-time = \"h323-credit-time=2\"\nAcct-Interim-Interval = 1\n%s", callID, ma))
	if reply != "CoA-ACK" {
		t.Fatalf("CoA: %q\n%s", reply, out)
	}
	waitAcct(t, fr, callID, count("Interim-Update", "answer", 1))
	caller.waitRequest(sip.BYE, 10*time.Second)
	if cut := time.Since(changed); cut < 1500*time.Millisecond || cut > 4*time.Second {
		t.Errorf("2 s of credit left cut the call after %v", cut)
	}
	rec := sw.record(t)
	if rec.DisconnectReason != cdr.ReasonCreditExpired || rec.CreditGranted < 2*time.Second || rec.CreditGranted > 4*time.Second {
		t.Errorf("record after the CoA: reason %q, credit %v", rec.DisconnectReason, rec.CreditGranted)
	}

	// 2. Disconnect: a wrong secret first (ignored), then the right one.
	second, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	gwSession := <-sessions
	callID = second.InviteRequest.CallID().Value()
	conf := confID(sw.Snapshot()[0].ID)
	request := fmt.Sprintf("h323-conf-id = \"h323-conf-id=%s\"\nCisco-AVPair = \"call-id=%s\"\n%s", conf, callID, ma)
	if reply, out := testenv.Radclient(t, dyn, "disconnect", "not-the-secret", request); reply != "" {
		t.Fatalf("wrong secret answered:\n%s", out)
	}
	if sw.ActiveCalls() != 1 {
		t.Fatal("a request with the wrong secret ended the call")
	}
	if reply, out := testenv.Radclient(t, dyn, "disconnect", secret, request); reply != "Disconnect-ACK" {
		t.Fatalf("Disconnect: %q\n%s", reply, out)
	}
	caller.waitRequest(sip.BYE, 5*time.Second)
	<-gwSession.Context().Done()
	rec = sw.record(t)
	if rec.DisconnectReason != cdr.ReasonRadiusDisconnect || rec.ReleasedBy != cdr.ReleasedBySwitch {
		t.Errorf("disconnected record: reason %q, released by %q", rec.DisconnectReason, rec.ReleasedBy)
	}
	recs := waitAcct(t, fr, callID, all(count("Stop", "answer", 1), count("Stop", "originate", 1)))
	for _, stop := range pick(recs, "Stop", "", "") {
		wantAttrs(t, "Stop", stop, map[string]string{"Acct-Terminate-Cause": "NAS-Request"}, "release-source=8")
	}
	reply, out = testenv.Radclient(t, dyn, "disconnect", secret, fmt.Sprintf("User-Name = \"127.0.0.1\"\n%s", ma))
	if reply != "Disconnect-NAK" || !strings.Contains(out, "Session-Context-Not-Found") {
		t.Errorf("Disconnect of no call: %q\n%s", reply, out)
	}
}

// TestRadiusServerInterim: an Access-Accept's Acct-Interim-Interval of 5 s
// replaces the configured 1 s: the Interim-Updates come 5 s apart.
func TestRadiusServerInterim(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	fr := startRadius(t, fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	Acct-Interim-Interval = 5,
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.addr()))
	sw := startAAASwitch(t, radiusYAML(fr, "  auth: ip\n  accounting: {interim: 1s, interim_min: 2s}\n"))
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)
	ds, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	callID := ds.InviteRequest.CallID().Value()
	recs := waitAcct(t, fr, callID, count("Interim-Update", "answer", 2))
	for i, r := range pick(recs, "Interim-Update", "answer", "")[:2] {
		got, _ := strconv.Atoi(r.Get("Acct-Session-Time"))
		if want := 5 * (i + 1); got < want-1 || got > want {
			t.Errorf("Interim-Update %d at %d s of the call, want %d", i+1, got, want)
		}
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	sw.record(t)
}

func TestInterimWithin(t *testing.T) {
	acct := config.Accounting{InterimMin: time.Minute, InterimMax: time.Hour}
	for asked, want := range map[time.Duration]time.Duration{
		0: 0, 5 * time.Second: time.Minute, 10 * time.Minute: 10 * time.Minute, 2 * time.Hour: time.Hour,
	} {
		if got := interimWithin(acct, asked); got != want {
			t.Errorf("interimWithin(%v) = %v, want %v", asked, got, want)
		}
	}
	if got := interimWithin(config.Accounting{InterimMin: time.Second}, 48*time.Hour); got != 48*time.Hour {
		t.Errorf("no maximum: %v", got)
	}
}
