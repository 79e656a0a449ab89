// Package relaycmd is `tollgate relay`: the built-in media relay run on its
// own. It is a package of its own so that the command's imports show what
// it needs — the relay, nothing of the switch (go list -deps
// ./cmd/tollgate/relaycmd; internal/archtest keeps it so). It takes the
// relay's configuration already read: the configuration package compiles
// call profiles, whose patterns belong to the switch.
package relaycmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// Run runs the relay configured by rc (read from path, for the log) until
// SIGTERM or SIGINT, answering the rtpproxy control protocol on
// media.builtin.control: a drop-in rtpproxy for Kamailio, OpenSIPS, Sippy
// B2BUA, or a Tollgate in media mode rtpproxy. On a signal new sessions
// are refused, the sockets close and every session ends. It returns the
// process's exit code.
func Run(rc relay.Config, path, version string, log *slog.Logger) int {
	if len(rc.Control) == 0 {
		log.Error("cannot start: media.builtin.control lists no control socket to answer on", "config", path)
		return 1
	}
	rc = rc.WithDefaults()
	r, err := relay.New(rc, log.With("component", "relay"))
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("tollgate relay running", "version", version, "control", r.ControlAddrs(),
		"ports", fmt.Sprintf("%d-%d", rc.PortMin, rc.PortMax), "notify", rc.Notify)
	if err := r.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("relay failed", "error", err)
		return 1
	}
	st := r.Stats()
	log.Info("stopped", "sessions", st.SessionsCreated, "relayed", st.PacketsRelayed)
	return 0
}
