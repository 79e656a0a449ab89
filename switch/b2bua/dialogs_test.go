package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// startSwitchV6 runs a switch on UDP at [::1] (and at 127.0.0.1, where
// the harness checks it listens), with the built-in relay when media.
func startSwitchV6(t *testing.T, yaml string, media bool) *testSwitch {
	t.Helper()
	if media {
		yaml += builtinMedia(t, 40, "")
	}
	port := testenv.FreePort(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(
		"sip:\n  listen: [\"udp:127.0.0.1:%d\", \"udp:[::1]:%d\"]\n%s", port, port, yaml)))
	if err != nil {
		t.Fatal(err)
	}
	if !media {
		return runSwitch(t, cfg, port, Options{}, nil)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	m := startTestMedia(t, sctx, cfg)
	ts := runSwitch(t, cfg, port, Options{Media: m.relays()}, func() { m.Close() })
	m.bind(ts.Switch)
	return ts
}

// TestIPv6Gateway: with caller and gateway on [::1], the gateway's 2xx is
// ACKed and its dialog hung up with BYE, whether the call connects (no
// relay) or the built-in relay refuses the gateway's IPv6 answer.
func TestIPv6Gateway(t *testing.T) {
	t.Parallel()
	sdp6 := strings.ReplaceAll(sdpAnswer, "IN IP4 127.0.0.1", "IN IP6 ::1")
	for _, media := range []bool{false, true} {
		t.Run(fmt.Sprintf("relay=%v", media), func(t *testing.T) {
			t.Parallel()
			gw := startPeerOn(t, "gw", "::1", nil)
			gw.setInvite(func(req *sip.Request, tx sip.ServerTransaction) {
				ds, err := gw.dsc.ReadInvite(req, tx)
				if err != nil {
					return
				}
				ds.RespondSDP([]byte(sdp6))
			})
			sw := startSwitchV6(t, "routes:\n  - prefix: \"\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n", media)
			caller := startPeerOn(t, "caller", "::1", nil)
			ctx := within(t, 10*time.Second)
			ds, err := caller.call(ctx, sip.Uri{Scheme: "sip", User: "100", Host: "[::1]", Port: sw.port})
			if !media {
				if err != nil {
					t.Fatal(err)
				}
				gw.waitRequest(sip.ACK, 5*time.Second)
				if err := ds.Bye(ctx); err != nil {
					t.Fatal(err)
				}
				gw.waitRequest(sip.BYE, 5*time.Second)
				if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
					t.Errorf("record = %+v", r)
				}
				return
			}
			var de *sipgo.ErrDialogResponse
			if !errors.As(err, &de) {
				t.Fatalf("caller got %v, want a failure: the relay refuses the answer", err)
			}
			gw.waitAll(5*time.Second, sip.ACK, sip.BYE)
			if r := sw.record(t); r.ConnectTime.IsZero() != true || r.SIPCode != de.Res.StatusCode {
				t.Errorf("record = %+v, caller got %d", r, de.Res.StatusCode)
			}
		})
	}
}
