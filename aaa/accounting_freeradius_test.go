package aaa_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

func accountant(t testing.TB, q *aaa.Queue, servers ...aaa.ServerConfig) (*aaa.Accountant, *aaa.Client) {
	t.Helper()
	c := newClient(t, aaa.ClientConfig{Servers: servers, DownAfter: 1, ProbeInterval: 100 * time.Millisecond})
	if q == nil {
		var err error
		if q, err = aaa.OpenQueue(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
	}
	return aaa.NewAccountant(c, q, aaa.AccountingConfig{RetryInterval: 100 * time.Millisecond, Node: "sw-1"}), c
}

func acctServer(fr *testenv.FreeRADIUS) aaa.ServerConfig {
	return aaa.ServerConfig{Addr: fr.AcctAddr, Secret: fr.Secret, Timeout: 2 * time.Second}
}

// TestAccountingRecordsFreeRADIUS sends the records of an answered call
// (answer leg, a failed attempt, the answering attempt) and checks every
// attribute FreeRADIUS logged.
func TestAccountingRecordsFreeRADIUS(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	acct, _ := accountant(t, nil, acctServer(fr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	setup := time.Date(2026, 11, 22, 12, 40, 1, 0, time.UTC)
	connect := setup.Add(5 * time.Second)
	end := connect.Add(65*time.Second + 400*time.Millisecond)
	conf := aaa.NewConfID()
	answer := aaa.Leg{
		Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallingNumber: "15550001000", CalledNumber: "15551230002",
		RemoteAddress: "127.0.0.2", CallID: "in-call@a", LegCallID: "in-call@a", ConfID: conf, SetupTime: setup, ConnectTime: connect,
	}
	busy := answer
	busy.Origin, busy.UserName, busy.RemoteAddress, busy.LegCallID, busy.ConnectTime = aaa.OriginOriginate, "acme", "127.0.0.1:5080", "out-1@b", time.Time{}
	busy.SetupTime = setup.Add(time.Second)
	out := busy
	out.RemoteAddress, out.LegCallID, out.ConnectTime = "127.0.0.1:5090", "out-2@b", connect

	steps := []func() error{
		func() error {
			return acct.Stop(ctx, busy, aaa.StopInfo{Time: setup.Add(2 * time.Second), SIPCode: 486, ReleaseSource: aaa.ReleasedByCallee})
		},
		func() error { return acct.Start(ctx, answer) },
		func() error { return acct.Start(ctx, out) },
		func() error { return acct.Interim(ctx, answer, connect.Add(30*time.Second)) },
		func() error {
			return acct.Stop(ctx, answer, aaa.StopInfo{Time: end, SIPCode: 0, ReleaseSource: aaa.ReleasedByCaller})
		},
		func() error {
			return acct.Stop(ctx, out, aaa.StopInfo{Time: end, SIPCode: 0, ReleaseSource: aaa.ReleasedByCaller})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	recs, err := fr.WaitDetail(ctx, len(steps))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(steps) {
		t.Fatalf("%d records, want %d", len(recs), len(steps))
	}
	cisco := aaa.FormatTime
	common := func(leg aaa.Leg) map[string]string {
		return map[string]string{
			"User-Name": leg.UserName, "Calling-Station-Id": leg.CallingNumber, "Called-Station-Id": leg.CalledNumber,
			"Acct-Session-Id": "in-call@a", "h323-conf-id": "h323-conf-id=" + conf.String(),
			"h323-remote-address": "h323-remote-address=" + leg.RemoteAddress,
			"h323-call-origin":    "h323-call-origin=" + string(leg.Origin), "h323-call-type": "h323-call-type=VoIP",
			"h323-setup-time": "h323-setup-time=" + cisco(leg.SetupTime),
			"NAS-Identifier":  "sw-1", "h323-gw-id": "h323-gw-id=sw-1",
		}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	want := []struct {
		attrs   map[string]string
		absent  []string
		avpairs []string
		event   time.Time
	}{
		{with(common(busy), "Acct-Status-Type", "Stop", "h323-connect-time", "h323-connect-time="+cisco(setup.Add(2*time.Second)),
			"h323-disconnect-time", "h323-disconnect-time="+cisco(setup.Add(2*time.Second)), "Acct-Session-Time", "0",
			"h323-disconnect-cause", "h323-disconnect-cause=11", "h323-voice-quality", "h323-voice-quality=0",
			"Acct-Terminate-Cause", "User-Request"), nil, []string{"release-source=4"}, setup.Add(2 * time.Second)},
		{with(common(answer), "Acct-Status-Type", "Start", "h323-connect-time", "h323-connect-time="+cisco(connect)),
			[]string{"Acct-Session-Time", "h323-disconnect-time", "h323-disconnect-cause"}, nil, connect},
		{with(common(out), "Acct-Status-Type", "Start", "h323-connect-time", "h323-connect-time="+cisco(connect)),
			[]string{"Acct-Session-Time"}, nil, connect},
		{with(common(answer), "Acct-Status-Type", "Interim-Update", "h323-connect-time", "h323-connect-time="+cisco(connect),
			"Acct-Session-Time", "30"), []string{"h323-disconnect-time"}, nil, connect.Add(30 * time.Second)},
		{with(common(answer), "Acct-Status-Type", "Stop", "h323-connect-time", "h323-connect-time="+cisco(connect),
			"h323-disconnect-time", "h323-disconnect-time="+cisco(end), "Acct-Session-Time", "65",
			"h323-disconnect-cause", "h323-disconnect-cause=10", "h323-voice-quality", "h323-voice-quality=0",
			"Acct-Terminate-Cause", "User-Request"), nil, []string{"release-source=2"}, end},
		{with(common(out), "Acct-Status-Type", "Stop", "Acct-Session-Time", "65", "h323-disconnect-cause", "h323-disconnect-cause=10"),
			nil, []string{"release-source=2"}, end},
	}
	for i, w := range want {
		r := recs[i]
		for k, v := range w.attrs {
			if got := r.Get(k); got != v {
				t.Errorf("record %d %s = %q, want %q", i, k, got, v)
			}
		}
		for _, k := range w.absent {
			if _, ok := r.Attrs[k]; ok {
				t.Errorf("record %d has %s = %q", i, k, r.Get(k))
			}
		}
		pairs := map[string]bool{}
		for _, p := range r.Attrs["Cisco-AVPair"] {
			pairs[p] = true
		}
		for _, p := range append(w.avpairs, "call-id=in-call@a", "h323-session-protocol=sipv2") {
			if !pairs[p] {
				t.Errorf("record %d lacks Cisco-AVPair %q (has %q)", i, p, r.Attrs["Cisco-AVPair"])
			}
		}
		// FreeRADIUS prints Event-Timestamp as a date, to the second.
		if ts, err := time.Parse("Jan _2 2006 15:04:05 MST", r.Get("Event-Timestamp")); err != nil || !ts.Equal(w.event.Truncate(time.Second)) {
			t.Errorf("record %d Event-Timestamp = %q, want %v", i, r.Get("Event-Timestamp"), w.event)
		}
		if got := r.Get("Acct-Delay-Time"); got != "0" {
			t.Errorf("record %d Acct-Delay-Time = %q, want 0 (answered at once)", i, got)
		}
	}
	if t.Failed() {
		t.Logf("records: %+v", recs)
	}
}
