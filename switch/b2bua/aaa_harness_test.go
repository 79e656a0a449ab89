package b2bua

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// startRadius starts a real FreeRADIUS answering with users, a users file
// written for the test (gateway addresses are only known at run time).
func startRadius(t *testing.T, users string) *testenv.FreeRADIUS {
	t.Helper()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	if err := os.WriteFile(filepath.Join(fr.ConfDir, "users"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	fr.Stop()
	fr.Start()
	return fr
}

// radiusYAML is a radius: section using fr for auth and accounting.
func radiusYAML(fr *testenv.FreeRADIUS, extra string) string {
	return fmt.Sprintf(`radius:
  auth_servers: [{address: %q, secret: %q, timeout: 2s}]
  acct_servers: [{address: %q, secret: %q, timeout: 2s}]
  probe_interval: 200ms
%s`, fr.AuthAddr, fr.Secret, fr.AcctAddr, fr.Secret, extra)
}

// startAAASwitch runs a switch like startSwitch, with RADIUS started from
// its configuration (the accounting queue in a temporary directory).
func startAAASwitch(t *testing.T, yaml string) *testSwitch {
	t.Helper()
	cfg, port := testConfig(t, fmt.Sprintf("cdr: {dir: %q}\n%s", t.TempDir(), yaml))
	ctx, cancel := context.WithCancel(context.Background())
	radius, closeRADIUS := radiusAAA(t, ctx, cfg)
	return runSwitch(t, cfg, port, Options{AAA: radius}, func() {
		closeRADIUS()
		cancel()
	})
}

// callWith places a call answering a digest challenge with user and
// password (none when password is empty), and ACKs its 200.
func (p *peer) callWith(ctx context.Context, target sip.Uri, user, password string) (*sipgo.DialogClientSession, error) {
	ds, err := p.dcc.Invite(ctx, target, []byte(sdpOffer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password}); err != nil {
		return ds, err
	}
	return ds, ds.Ack(ctx)
}

// finalCode is the SIP code of a call attempt's error (0 when it is not a
// SIP response), and the response.
func finalCode(err error) (int, *sip.Response) {
	if e, ok := err.(*sipgo.ErrDialogResponse); ok {
		return e.Res.StatusCode, e.Res
	}
	return 0, nil
}

// ofCall returns the accounting records of one call (its Cisco-AVPair
// call-id), in the order FreeRADIUS logged them.
func ofCall(recs []testenv.DetailRecord, callID string) []testenv.DetailRecord {
	var out []testenv.DetailRecord
	for _, r := range recs {
		for _, p := range r.Attrs["Cisco-AVPair"] {
			if p == "call-id="+callID {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// pick returns the records of a call with a status, in order, for one
// origin and one remote address ("" any).
func pick(recs []testenv.DetailRecord, status, origin, remote string) []testenv.DetailRecord {
	var out []testenv.DetailRecord
	for _, r := range recs {
		if r.Get("Acct-Status-Type") == status && (origin == "" || r.Get("h323-call-origin") == "h323-call-origin="+origin) &&
			(remote == "" || r.Get("h323-remote-address") == "h323-remote-address="+remote) {
			out = append(out, r)
		}
	}
	return out
}

// wantAttrs checks attributes of a record one by one: a value, or "-" for
// an attribute that must be absent; avpairs lists Cisco-AVPairs it must hold.
func wantAttrs(t *testing.T, what string, r testenv.DetailRecord, want map[string]string, avpairs ...string) {
	t.Helper()
	for k, v := range want {
		got, ok := r.Attrs[k]
		switch {
		case v == "-" && ok:
			t.Errorf("%s: has %s = %q", what, k, got)
		case v != "-" && r.Get(k) != v:
			t.Errorf("%s: %s = %q, want %q", what, k, r.Get(k), v)
		}
	}
	have := map[string]bool{}
	for _, p := range r.Attrs["Cisco-AVPair"] {
		have[p] = true
	}
	for _, p := range append(avpairs, "h323-session-protocol=sipv2") {
		if !have[p] {
			t.Errorf("%s: lacks Cisco-AVPair %q (has %q)", what, p, r.Attrs["Cisco-AVPair"])
		}
	}
}

// waitCalls waits until the switch has no call up (their records are
// handed to accounting by then).
func waitCalls(t *testing.T, sw *testSwitch, n int64) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, fmt.Sprintf("%d calls up", n), func() bool { return sw.ActiveCalls() == n })
}
