package b2bua

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestHoldOptions: each SEMS hold option alters a hold offer (here in an
// UPDATE) relayed to its leg, and only hold offers: hold_alter_b2b_bleg with
// hold_activity_bleg and hold_zero_connection_bleg toward the gateway,
// the _aleg ones toward the caller.
func TestHoldOptions(t *testing.T) {
	t.Parallel()
	sendonly := strings.Replace(sdpOffer, "a=sendrecv", "a=sendonly", 1)
	inactive := strings.Replace(sdpOffer, "a=sendrecv", "a=inactive", 1)
	for _, tc := range []struct {
		name, options  string
		fromCaller     bool   // who puts the call on hold
		offer          string // the hold offer sent
		want, wantConn string // what the far peer gets
	}{
		{"activity_bleg", "hold_alter_b2b_bleg: true, hold_activity_bleg: inactive", true, sendonly, "a=inactive", "c=IN IP4 127.0.0.1"},
		{"zero_connection_bleg", "hold_alter_b2b_bleg: true, hold_zero_connection_bleg: true", true, inactive, "a=sendonly", "c=IN IP4 0.0.0.0"},
		{"activity_aleg", "hold_alter_b2b_aleg: true, hold_activity_aleg: recvonly", false, sendonly, "a=recvonly", "c=IN IP4 127.0.0.1"},
		{"zero_connection_aleg", "hold_alter_b2b_aleg: true, hold_zero_connection_aleg: true, hold_activity_aleg: inactive", false, sendonly, "a=inactive", "c=IN IP4 0.0.0.0"},
		{"other_leg_untouched", "hold_alter_b2b_aleg: true, hold_activity_aleg: inactive", true, sendonly, "a=sendonly", "c=IN IP4 127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gw := newPeer(t, "gw")
			sessions := make(chan *sipgo.DialogServerSession, 1)
			gw.answer(0, sessions)
			sw := startSwitch(t, routeTo(gw)+"profiles:\n  - {name: h, "+tc.options+"}\nprofile_select:\n  selectors: [h]\n")
			caller := newPeer(t, "caller")
			ctx := within(t, 20*time.Second)
			ds, err := caller.call(ctx, sw.uri("100"))
			if err != nil {
				t.Fatal(err)
			}
			gs := <-sessions
			// The switch ACKs the gateway before the caller's ACK reaches
			// it: an offer before then would meet 491.
			testenv.Eventually(t, 5*time.Second, "the call is connected", func() bool {
				up := false
				sw.calls.each(func(c *Call) { c.mu.Lock(); up = c.phase == PhaseConnected; c.mu.Unlock() })
				return up
			})

			// update sends body in an UPDATE (RFC 3311: no ACK to wait
			// for) from one side and returns what the other side received.
			update := func(body string) *sip.Request {
				req := sip.NewRequest(sip.UPDATE, sip.Uri{})
				req.SetBody([]byte(body))
				req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
				var res *sip.Response
				var err error
				far := gw
				if tc.fromCaller {
					req.Recipient = ds.InviteResponse.Contact().Address
					res, err = ds.Do(ctx, req)
				} else {
					far = caller
					req.Recipient = gs.InviteRequest.Contact().Address
					res, err = gs.Do(ctx, req)
				}
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("UPDATE: %v %v", res, err)
				}
				// No wait here: the exchange is over when its answer is
				// relayed, so the next offer, sent at once, must not meet
				// 491.
				return far.waitRequest(sip.UPDATE, 5*time.Second)
			}
			got := string(update(tc.offer).Body())
			if !strings.Contains(got, tc.want) || strings.Count(got, "a=") != strings.Count(tc.offer, "a=") ||
				!strings.Contains(got, tc.wantConn) {
				t.Errorf("hold offer relayed as\n%s\nwant %s and %s", got, tc.want, tc.wantConn)
			}
			// Taking the call off hold is no hold offer: it passes.
			if got := string(update(sdpOffer).Body()); !strings.Contains(got, "a=sendrecv") || strings.Contains(got, "0.0.0.0") {
				t.Errorf("unhold relayed as\n%s", got)
			}
			ds.Bye(context.Background())
			sw.record(t)
		})
	}
}
