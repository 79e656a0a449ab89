// Package relaycmd is `tollgate relay`: the built-in media relay run on its
// own. It is a package of its own so that the command's imports show what
// it needs — the configuration and the relay, nothing of the switch
// (go list -deps ./cmd/tollgate/relaycmd).
package relaycmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// Config is the built-in relay's configuration from the media section
// (control sockets and notification targets as configured): the same for
// `tollgate relay` and the relay `tollgate serve` runs in its process.
func Config(b config.BuiltinMedia) relay.Config {
	return relay.Config{
		Control:       append([]string(nil), b.Control...),
		MediaIP:       b.MediaIP,
		AdvertiseIP:   b.AdvertiseIP,
		PortMin:       b.PortMin,
		PortMax:       b.PortMax,
		SetupTTL:      b.SetupTTL,
		TTL:           b.TTL,
		MaxSessions:   b.MaxSessions,
		MaxPacketRate: b.MaxPacketRate,
		MaxBusy:       b.MaxBusy,
		Notify:        append([]string(nil), b.Notify...),
	}
}

// Run runs the relay of cfg (loaded from path, for the log) until SIGTERM
// or SIGINT, answering the rtpproxy control protocol on
// media.builtin.control: a drop-in rtpproxy for Kamailio, OpenSIPS, Sippy
// B2BUA, or a Tollgate in media mode rtpproxy. On a signal new sessions
// are refused, the sockets close and every session ends. It returns the
// process's exit code.
func Run(cfg *config.Config, path, version string, log *slog.Logger) int {
	b := cfg.Media.Builtin
	if len(b.Control) == 0 {
		log.Error("cannot start: media.builtin.control lists no control socket to answer on", "config", path)
		return 1
	}
	rc := Config(b).WithDefaults()
	r, err := relay.New(rc, log.With("component", "relay"))
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("tollgate relay running", "version", version, "control", r.ControlAddrs(),
		"ports", fmt.Sprintf("%d-%d", rc.PortMin, rc.PortMax), "notify", b.Notify)
	if err := r.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("relay failed", "error", err)
		return 1
	}
	st := r.Stats()
	log.Info("stopped", "sessions", st.SessionsCreated, "relayed", st.PacketsRelayed)
	return 0
}
