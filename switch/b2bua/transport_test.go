package b2bua

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

func TestCallOverTCP(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways: [{address: %q, transport: tcp}]\n", gw.addr()))
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	target := sw.uri("100")
	target.UriParams = sip.NewParams()
	target.UriParams.Add("transport", "tcp")
	ds, err := caller.call(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	inv := gw.invites()[0]
	if inv.Transport() != "TCP" || !strings.Contains(inv.Via().Transport, "TCP") {
		t.Errorf("gateway got INVITE over %s via %s", inv.Transport(), inv.Via().Transport)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	gw.waitRequest(sip.BYE, 5*time.Second)
	if r := sw.record(t); r.SIPCode != 200 || r.ReleasedBy != "caller" {
		t.Errorf("record = %+v", r)
	}
}

func TestIPv6Listener(t *testing.T) {
	t.Parallel()
	probe, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatalf("this machine has no IPv6 loopback: %v", err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf("sip:\n  listen: [\"udp:[::1]:%d\", \"udp:127.0.0.1:%d\"]\n",
		port, testenv.FreeUDPPort(t))))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := New(cfg, Options{Log: testLogger(t), AAA: limitsAAA(t, cfg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sw.Serve(ctx) }()
	defer func() { cancel(); <-done; sw.Close() }()
	addr := fmt.Sprintf("[::1]:%d", port)
	testenv.Eventually(t, 5*time.Second, "an answer over IPv6", func() bool {
		res := rawExchange(t, addr, strings.ReplaceAll(optionsMsg(addr, 70), "127.0.0.1:9", "[::1]:9"), 200*time.Millisecond)
		return strings.HasPrefix(res, "SIP/2.0 200")
	})
}
