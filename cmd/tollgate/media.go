package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// media holds the media relays serve anchors calls on: a pool of external
// rtpproxies, and the built-in relay running in this process. Both are
// driven through the same rtpproxy client (rtpproxyctl.Pool), so one code
// path — U, L, Q && D, retransmission, timeout notification — serves every
// mode; the built-in relay pays one loopback datagram per command for it,
// which is nothing next to a SIP transaction.
//
// The CDR's RTP counters take the same path. At teardown the client asks
// each direction's packets, loss (rtpa_nlost) and mean jitter (rtpa_javg)
// with named Q counters, as far as the relay's VF answers allow. Bytes,
// which rtpproxy does not count, come from a Tollgate extension counter
// (tg_nbytes_ina) that the client asks only of a relay answering 1 to
// "VF tollgate_nbytes": the built-in relay, in this process or run alone as
// `tollgate relay`. A real rtpproxy answers 0 to that VF and is never asked,
// so it cannot see the E62 an unknown counter would earn. Reading the
// relay's statistics in-process instead would serve serve's own relay only,
// need a second path beside Q ... && D, and race with the delete.
//
// It is built here, not in the switch, so that the switch depends only on
// the small pool interface it declares (b2bua.RelayPool).
type media struct {
	log     *slog.Logger
	pools   map[string]*rtpproxyctl.Pool // by config.Media* mode
	builtin *relay.Relay
	stop    context.CancelFunc
	served  chan error
	tmpDir  string
	events  atomic.Pointer[relayEvents]
}

// relayEvents is what the relays tell the switch about its calls
// (b2bua.Switch).
type relayEvents interface {
	MediaTimedOut(rtpproxyctl.Dialog)
	MediaRelayLost(rtpproxyctl.Dialog)
	MediaDTMF(rtpproxyctl.Dialog, rtpproxyctl.Side, rtpproxyctl.DTMFEvent)
}

// In-process control settings: the relay is on loopback, so a lost
// datagram is resent quickly; the reply cache makes resends harmless.
const (
	builtinControl = "udp:127.0.0.1:0"
	builtinTimeout = 300 * time.Millisecond
	builtinRetries = 9
)

// startMedia starts what the configuration's media modes need: the
// built-in relay (in-process, with its configured control sockets served
// besides the switch's own loopback one) when a route uses mode builtin,
// and the rtpproxy pool when one uses mode rtpproxy. With mode none
// everywhere it starts nothing. Close it after the switch.
func startMedia(ctx context.Context, cfg *config.Config, log *slog.Logger) (*media, error) {
	m := &media{log: log, pools: map[string]*rtpproxyctl.Pool{}}
	if cfg.UsesMedia(config.MediaBuiltin) {
		if err := m.startBuiltin(ctx, cfg.Media.Builtin, cfg.Media.CounterInterval, cfg.SIP.MediaIPs()); err != nil {
			m.Close()
			return nil, err
		}
	}
	if cfg.UsesMedia(config.MediaRTPProxy) {
		if err := m.startRTPProxy(ctx, cfg.Media.RTPProxy, cfg.Media.CounterInterval); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// interfaceIPs are the SIP interfaces' media addresses, which the relay
// binds the legs of calls using them on.
func (m *media) startBuiltin(ctx context.Context, b config.BuiltinMedia, counters time.Duration, interfaceIPs []string) error {
	// Timeout notifications come back over a unix socket in a private
	// directory: its name is known before the relay starts, unlike a TCP
	// port the kernel would choose.
	dir, err := os.MkdirTemp("", "tollgate-media-")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	m.tmpDir = dir
	notify := "unix:" + filepath.Join(dir, "notify.sock")
	rc := relayConfig(b)
	rc.InterfaceIPs = interfaceIPs
	rc.Control = append([]string{builtinControl}, rc.Control...)
	rc.Notify = append(rc.Notify, notify)
	r, err := relay.New(rc, m.log.With("component", "relay"))
	if err != nil {
		return fmt.Errorf("media: built-in relay: %w", err)
	}
	m.builtin = r
	sctx, stop := context.WithCancel(context.Background())
	m.stop, m.served = stop, make(chan error, 1)
	go func() { m.served <- r.Serve(sctx) }()

	var adv netip.Addr
	if b.AdvertiseIP != "" {
		adv, _ = netip.ParseAddr(b.AdvertiseIP)
	}
	p, err := rtpproxyctl.New(ctx, rtpproxyctl.Config{
		Relays:          []rtpproxyctl.RelayConfig{{Address: r.ControlAddrs()[0], Advertise: adv}},
		Options:         rtpproxyctl.Options{Timeout: builtinTimeout, Retries: builtinRetries},
		NotifyListen:    notify,
		OnTimeout:       m.timedOut,
		OnRelayLost:     m.relayLost,
		OnDTMF:          m.dtmf,
		CounterInterval: counters,
		Logger:          m.log,
	})
	if err != nil {
		return fmt.Errorf("media: built-in relay client: %w", err)
	}
	m.pools[config.MediaBuiltin] = p
	m.log.Info("built-in media relay running", "control", r.ControlAddrs(), "ports", fmt.Sprintf("%d-%d", b.PortMin, b.PortMax))
	return nil
}

func (m *media) startRTPProxy(ctx context.Context, c config.RTPProxyMedia, counters time.Duration) error {
	pc := rtpproxyctl.Config{
		Options:         rtpproxyctl.Options{Timeout: c.Timeout, Retries: c.Retries},
		ProbeInterval:   c.ProbeInterval,
		NotifyListen:    c.Notify,
		NotifySocket:    c.NotifySocket,
		OnTimeout:       m.timedOut,
		OnRelayLost:     m.relayLost,
		OnDTMF:          m.dtmf,
		HealthInterval:  c.HealthInterval,
		CounterInterval: counters,
		Logger:          m.log,
	}
	for _, r := range c.Relays {
		rc := rtpproxyctl.RelayConfig{Address: r.Address, Weight: r.Weight}
		if r.Advertise != "" {
			rc.Advertise, _ = netip.ParseAddr(r.Advertise)
		}
		if r.Advertise6 != "" {
			rc.Advertise6, _ = netip.ParseAddr(r.Advertise6)
		}
		pc.Relays = append(pc.Relays, rc)
	}
	p, err := rtpproxyctl.New(ctx, pc)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	m.pools[config.MediaRTPProxy] = p
	return nil
}

// relays are the running pools as the switch takes them.
func (m *media) relays() b2bua.MediaRelays {
	out := b2bua.MediaRelays{}
	for mode, p := range m.pools {
		out[mode] = p
	}
	return out
}

// bind sends the relays' timeout notifications and lost relays' calls to
// the switch: the pools start before the switch exists.
func (m *media) bind(sw relayEvents) { m.events.Store(&sw) }

func (m *media) timedOut(d rtpproxyctl.Dialog) {
	if sw := m.events.Load(); sw != nil {
		(*sw).MediaTimedOut(d)
	}
}

func (m *media) relayLost(d rtpproxyctl.Dialog) {
	if sw := m.events.Load(); sw != nil {
		(*sw).MediaRelayLost(d)
	}
}

func (m *media) dtmf(d rtpproxyctl.Dialog, from rtpproxyctl.Side, ev rtpproxyctl.DTMFEvent) {
	if sw := m.events.Load(); sw != nil {
		(*sw).MediaDTMF(d, from, ev)
	}
}

// transcoderUse reads the built-in relay's conversions in progress, for
// the switch's OPTIONS replies; nil without the built-in relay (an
// rtpproxy's transcoding, if any, is not the switch's to tell).
func (m *media) transcoderUse() func() []b2bua.CodecUse {
	if m.builtin == nil {
		return nil
	}
	return func() []b2bua.CodecUse {
		var out []b2bua.CodecUse
		for _, c := range m.builtin.Conversions() {
			out = append(out, b2bua.CodecUse{Codec: c.Codec, Reading: c.Reading, Writing: c.Writing})
		}
		return out
	}
}

// Status lists the relays of a mode's pool, for the admin UI.
func (m *media) Status(mode string) []rtpproxyctl.RelayStatus {
	if p := m.pools[mode]; p != nil {
		return p.Status()
	}
	return nil
}

// Close stops the pools and the built-in relay; sessions still open end.
func (m *media) Close() error {
	var err error
	for _, p := range m.pools {
		err = errors.Join(err, p.Close())
	}
	if m.stop != nil {
		m.stop()
		if serr := <-m.served; serr != nil && !errors.Is(serr, context.Canceled) {
			err = errors.Join(err, serr)
		}
	}
	if m.tmpDir != "" {
		err = errors.Join(err, os.RemoveAll(m.tmpDir))
	}
	return err
}
