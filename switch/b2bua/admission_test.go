package b2bua

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestOptionsSayWhetherCallsAreTaken: a dispatcher's OPTIONS probe gets
// 200 while the switch takes calls and 503 while it is draining or at
// limits.max_calls, so the dispatcher sends new calls elsewhere; calls up
// carry on through a drain.
func TestOptionsSayWhetherCallsAreTaken(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, routeTo(gw)+"limits:\n  max_calls: 1\n  retry_after: 7s\n")
	probe := func() string { return firstLine(rawExchange(t, sw.addr(), optionsMsg(sw.addr(), 70), 3*time.Second)) }
	if got := probe(); !strings.HasPrefix(got, "SIP/2.0 200 ") {
		t.Fatalf("idle: %q, want 200", got)
	}
	caller := newPeer(t, "caller")
	ctx := within(t, 10*time.Second)
	up, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatal(err)
	}
	if got := probe(); got != "SIP/2.0 503 Too Many Calls" {
		t.Errorf("at max_calls: %q, want 503 Too Many Calls", got)
	}
	sw.Drain()
	up.Bye(ctx)
	if r := sw.record(t); r.DisconnectReason != "normal" {
		t.Errorf("call up through the drain: record %+v", r)
	}
	if got := probe(); got != "SIP/2.0 503 Draining" {
		t.Errorf("draining: %q, want 503 Draining", got)
	}
	_, err = caller.call(ctx, sw.uri("100"))
	var de *sipgo.ErrDialogResponse
	if !errors.As(err, &de) || de.Res.StatusCode != 503 || de.Res.Reason != "Draining" {
		t.Fatalf("call while draining: %v, want 503 Draining", err)
	}
	sw.record(t)
	sw.Resume()
	if got := probe(); !strings.HasPrefix(got, "SIP/2.0 200 ") {
		t.Errorf("resumed: %q, want 200", got)
	}
	again, err := caller.call(ctx, sw.uri("100"))
	if err != nil {
		t.Fatalf("call after resuming: %v", err)
	}
	again.Bye(ctx)
	sw.record(t)
}

// TestCallerNamedByTrustedProxy: from a trusted front proxy, X-Orig-IP and
// X-Orig-Port are the caller's address in the record (and for IP
// authorisation, limits and $si); from anyone else they are ignored.
func TestCallerNamedByTrustedProxy(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	orig := []sip.Header{sip.NewHeader("X-Orig-IP", "198.51.100.7"), sip.NewHeader("X-Orig-Port", "5077"), sip.NewHeader("X-Orig-Proto", "udp")}
	for _, tc := range []struct {
		name, cluster string
		ip            string
		port          int
	}{
		{"trusted", "cluster:\n  trusted_proxies: [10.0.0.0/8, 127.0.0.1]\n", "198.51.100.7", 5077},
		{"untrusted", "cluster:\n  trusted_proxies: [10.0.0.1]\n", "127.0.0.1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw := startSwitch(t, routeTo(gw)+tc.cluster)
			caller := newPeer(t, "caller")
			ctx := within(t, 10*time.Second)
			ds, err := caller.call(ctx, sw.uri("100"), orig...)
			if err != nil {
				t.Fatal(err)
			}
			ds.Bye(ctx)
			r := sw.record(t)
			if r.SourceIP != tc.ip || (tc.port != 0 && r.SourcePort != tc.port) || (tc.port == 0 && r.SourcePort == 5077) {
				t.Errorf("record source %s:%d, want %s (port %d)", r.SourceIP, r.SourcePort, tc.ip, tc.port)
			}
		})
	}
}
