package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// relayCommand runs the built-in media relay on its own, from the media
// section of the configuration file, answering the rtpproxy control
// protocol on media.builtin.control: a drop-in rtpproxy for Kamailio,
// OpenSIPS, Sippy B2BUA, or a Tollgate in media mode rtpproxy. SIGTERM or
// SIGINT stop it: new sessions are refused, the sockets close and every
// session ends.
func relayCommand(args []string, stderr io.Writer) int {
	cfg, path, log, code := startDaemon("relay", args, stderr)
	if code != 0 {
		return code
	}
	b := cfg.Media.Builtin
	if len(b.Control) == 0 {
		log.Error("cannot start: media.builtin.control lists no control socket to answer on", "config", path)
		return 1
	}
	r, err := relay.New(builtinRelayConfig(b), log.With("component", "relay"))
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("tollgate relay running", "version", version, "control", r.ControlAddrs(),
		"ports", fmt.Sprintf("%d-%d", b.PortMin, b.PortMax), "notify", b.Notify)
	if err := r.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("relay failed", "error", err)
		return 1
	}
	st := r.Stats()
	log.Info("stopped", "sessions", st.SessionsCreated, "relayed", st.PacketsRelayed)
	return 0
}
