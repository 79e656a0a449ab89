package b2bua

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// The switch builds none of its back-ends: these helpers build real ones
// the way cmd/tollgate does (serve's media.go and radius.go), for the tests
// that need a relay or a RADIUS server.

// limitsAAA is the AAA of a switch without RADIUS: the limits and credit
// of cfg.
func limitsAAA(t testing.TB, cfg *config.Config) *AAA {
	a := NewAAA(testLogger(t), AAAOptions{Limits: billing.NewLimits(LimitsConfig(cfg))})
	t.Cleanup(a.Close)
	return a
}

// radiusAAA is the AAA of cfg's RADIUS servers, with its accounting queue
// and resender; close runs after the switch is shut down.
func radiusAAA(t testing.TB, ctx context.Context, cfg *config.Config) (a *AAA, done func()) {
	t.Helper()
	r := cfg.Radius
	log := testLogger(t)
	nas, _ := netip.ParseAddr(r.NASIPAddress)
	servers := func(in []config.RadiusServer) []aaa.ServerConfig {
		var out []aaa.ServerConfig
		for _, s := range in {
			out = append(out, aaa.ServerConfig{Addr: s.Address, Secret: s.Secret, Timeout: s.Timeout, Retries: s.Retries,
				RequireMessageAuthenticator: s.RequireMessageAuthenticator})
		}
		return out
	}
	o := AAAOptions{Limits: billing.NewLimits(LimitsConfig(cfg))}
	var closers []func() error
	if len(r.AuthServers) > 0 {
		auth, err := aaa.NewClient(aaa.ClientConfig{Servers: servers(r.AuthServers), RoundRobin: r.RoundRobin, ProbeInterval: r.ProbeInterval, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, auth.Close)
		codes := aaa.DefaultReturnCodes()
		for rc, s := range r.ReturnCodes {
			codes[rc] = aaa.SIPStatus{Code: s.Code, Reason: s.Reason}
		}
		o.Auth = aaa.NewAuthorizer(auth, aaa.AuthConfig{IPPassword: r.IPPassword, NASIPAddress: nas, ReturnCodes: codes})
		o.Nonces = aaa.NewNonces(aaa.NonceConfig{Lifetime: r.NonceLifetime})
	}
	stop, ran := func() {}, make(chan struct{})
	if len(r.AcctServers) > 0 {
		acct, err := aaa.NewClient(aaa.ClientConfig{Servers: servers(r.AcctServers), RoundRobin: r.RoundRobin, ProbeInterval: r.ProbeInterval, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, acct.Close)
		q, err := aaa.OpenQueue(r.Accounting.QueueDir)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, q.Close)
		accountant := aaa.NewAccountant(acct, q, aaa.AccountingConfig{SessionIDPerLeg: r.Accounting.SessionIDPerLeg,
			NASIPAddress: nas, Logger: log})
		o.Acct, o.Queue = accountant, q
		var runCtx context.Context
		runCtx, stop = context.WithCancel(ctx)
		go func() {
			defer close(ran)
			accountant.Run(runCtx)
		}()
	} else {
		close(ran)
	}
	a = NewAAA(log, o)
	return a, func() {
		a.Close()
		stop()
		<-ran
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
}

// testMedia is the built-in relay serving a pool of one, with timeout
// notifications over a unix socket, as serve starts it. When the
// configuration anchors media with mode rtpproxy, the relay stands for the
// first external relay instead, on that relay's control address, as
// `tollgate relay` would run it, and the pool is driven with the
// rtpproxy section's settings.
type testMedia struct {
	builtin *relay.Relay
	pool    *rtpproxyctl.Pool
	mode    string
	stop    context.CancelFunc
	served  chan error
	sw      atomic.Pointer[Switch]
}

func startTestMedia(t testing.TB, ctx context.Context, cfg *config.Config) *testMedia {
	t.Helper()
	b := cfg.Media.Builtin
	dir, err := os.MkdirTemp("", "tollgate-media-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	notify := "unix:" + filepath.Join(dir, "notify.sock")
	mode, control := config.MediaBuiltin, "udp:127.0.0.1:0"
	opts, health := rtpproxyctl.Options{Timeout: 300 * time.Millisecond, Retries: 9}, time.Duration(0)
	if p := cfg.Media.RTPProxy; cfg.UsesMedia(config.MediaRTPProxy) {
		mode, control = config.MediaRTPProxy, p.Relays[0].Address
		opts, health = rtpproxyctl.Options{Timeout: p.Timeout, Retries: p.Retries}, p.HealthInterval
	}
	r, err := relay.New(relay.Config{
		Control: []string{control}, MediaIP: b.MediaIP, AdvertiseIP: b.AdvertiseIP, MediaIP6: b.MediaIP6, AdvertiseIP6: b.AdvertiseIP6,
		PortMin: b.PortMin, PortMax: b.PortMax, SetupTTL: b.SetupTTL, TTL: b.TTL,
		MaxSessions: b.MaxSessions, MaxPacketRate: b.MaxPacketRate, MaxBusy: b.MaxBusy,
		Notify: []string{notify}, InterfaceIPs: cfg.SIP.MediaIPs(),
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &testMedia{builtin: r, mode: mode, served: make(chan error, 1)}
	var sctx context.Context
	sctx, m.stop = context.WithCancel(context.Background())
	go func() { m.served <- r.Serve(sctx) }()
	m.pool, err = rtpproxyctl.New(ctx, rtpproxyctl.Config{
		Relays:         []rtpproxyctl.RelayConfig{{Address: r.ControlAddrs()[0]}},
		Options:        opts,
		HealthInterval: health,
		NotifyListen:   notify,
		OnTimeout: func(d rtpproxyctl.Dialog) {
			if sw := m.sw.Load(); sw != nil {
				sw.MediaTimedOut(d)
			}
		},
		OnRelayLost: func(d rtpproxyctl.Dialog) {
			if sw := m.sw.Load(); sw != nil {
				sw.MediaRelayLost(d)
			}
		},
		OnDTMF: func(d rtpproxyctl.Dialog, from rtpproxyctl.Side, ev rtpproxyctl.DTMFEvent) {
			if sw := m.sw.Load(); sw != nil {
				sw.MediaDTMF(d, from, ev)
			}
		},
		Logger: testLogger(t),
	})
	if err != nil {
		m.stop()
		<-m.served
		t.Fatal(err)
	}
	return m
}

// Builtin is the relay, for its statistics.
func (m *testMedia) Builtin() *relay.Relay { return m.builtin }

func (m *testMedia) relays() MediaRelays { return MediaRelays{m.mode: m.pool} }

// transcoderUse is the relay's conversions in progress, as serve gives
// them to the switch.
func (m *testMedia) transcoderUse() []CodecUse {
	var out []CodecUse
	for _, c := range m.builtin.Conversions() {
		out = append(out, CodecUse{Codec: c.Codec, Reading: c.Reading, Writing: c.Writing})
	}
	return out
}

// bind sends the relay's timeout notifications and its loss to the switch.
func (m *testMedia) bind(s *Switch) { m.sw.Store(s) }

// kill stops the relay as if its process died: its control and media
// sockets close, and nothing answers there any more.
func (m *testMedia) kill() {
	m.stop()
	<-m.served
	m.served <- nil // for Close
}

func (m *testMedia) Close() error {
	err := m.pool.Close()
	m.stop()
	<-m.served
	return err
}
