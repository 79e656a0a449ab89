package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo"
)

// TestGatewayCapacityAndRate: a gateway at its max_calls, or past its
// max_cps, is skipped by the hunt without an attempt, the skip counted, and
// the call goes to the next gateway; a call's end gives its slot back.
func TestGatewayCapacityAndRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, limit string
		skipped     func(GatewayLoad) uint64
	}{
		{"capacity", "max_calls: 1", func(l GatewayLoad) uint64 { return l.SkippedFull }},
		// One call per 100 s: the second call comes well within it.
		{"rate", "max_cps: 0.01", func(l GatewayLoad) uint64 { return l.SkippedRate }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw1, gw2 := newPeer(t, "gw1"), newPeer(t, "gw2")
			sessions := make(chan *sipgo.DialogServerSession, 2)
			gw1.answer(0, sessions)
			gw2.answer(0, sessions)
			sw := startSwitch(t, fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways:\n      - {address: %q, %s}\n      - {address: %q}\n",
				gw1.addr(), tc.limit, gw2.addr()))
			caller := newPeer(t, "caller")
			ctx := within(t, 30*time.Second)

			first, err := caller.call(ctx, sw.uri("1"))
			if err != nil {
				t.Fatal(err)
			}
			<-sessions
			second, err := caller.call(ctx, sw.uri("2"))
			if err != nil {
				t.Fatal(err)
			}
			<-sessions
			if len(gw1.invites()) != 1 || len(gw2.invites()) != 1 {
				t.Errorf("gw1 got %d INVITEs, gw2 %d; want one each", len(gw1.invites()), len(gw2.invites()))
			}
			loads := sw.GatewayLoads()
			if len(loads) != 1 || loads[0].Address != gw1.addr() || loads[0].Active != 1 || tc.skipped(loads[0]) != 1 {
				t.Errorf("gateway loads with both calls up: %+v", loads)
			}
			for _, ds := range []*sipgo.DialogClientSession{first, second} {
				if err := ds.Bye(ctx); err != nil {
					t.Fatal(err)
				}
			}
			waitCalls(t, sw, 0)
			rec1, rec2 := sw.record(t), sw.record(t)
			for _, r := range []struct {
				called string
				n      int
			}{{rec1.CalledReceived, len(rec1.Attempts)}, {rec2.CalledReceived, len(rec2.Attempts)}} {
				if r.n != 1 {
					t.Errorf("call %s made %d attempts, want 1 (a skipped gateway is no attempt)", r.called, r.n)
				}
			}
			if l := sw.GatewayLoads()[0]; l.Active != 0 {
				t.Errorf("after both calls ended gw1 still counts %d", l.Active)
			}
		})
	}
}

// TestGatewayFullRefusesWithOneRecord, against the real FreeRADIUS: when
// the route's only gateway is at its max_calls, the next call is refused
// 503 without an attempt — one record, its caller leg's one Stop, and no
// accounting for a gateway leg that never existed — while the call up
// keeps its own.
func TestGatewayFullRefusesWithOneRecord(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw.answer(0, sessions)
	fr := startRadius(t, "")
	sw := startAAASwitch(t, fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways:\n      - {address: %q, max_calls: 1}\n", gw.addr())+
		radiusYAML(fr, ""))
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)

	up, err := caller.call(ctx, sw.uri("1"))
	if err != nil {
		t.Fatal(err)
	}
	<-sessions
	_, err = caller.call(ctx, sw.uri("2"))
	if code, _ := finalCode(err); code != 503 {
		t.Fatalf("second call: %v, want 503 (the only gateway is full)", err)
	}
	refused := sw.record(t)
	if refused.CalledReceived != "2" || refused.SIPCode != 503 || len(refused.Attempts) != 0 {
		t.Errorf("refused call's record %+v, want code 503 and no attempt", refused)
	}
	waitAcct(t, fr, refused.CallIDA, count("Stop", "answer", 1))
	if err := up.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, sw, 0)
	if r := sw.record(t); r.CalledReceived != "1" || r.SIPCode != 200 {
		t.Errorf("the call up: record %+v", r)
	}
	sw.noRecord(t)
	recs := mustDetail(t, fr)
	got := ofCall(recs, refused.CallIDA)
	if len(got) == 0 || len(pick(got, "Stop", "answer", "")) != 1 ||
		len(pick(got, "Start", "originate", ""))+len(pick(got, "Stop", "originate", "")) != 0 {
		t.Errorf("refused call's accounting %+v, want one answer-leg Stop and nothing for a gateway leg", got)
	}
	if len(pick(recs, "Stop", "", "")) != 3 {
		t.Errorf("Stops %+v, want 3: the refused call's and both legs of the call up", pick(recs, "Stop", "", ""))
	}
}
