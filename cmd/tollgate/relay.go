package main

import (
	"io"

	"github.com/tollgate/tollgate/cmd/tollgate/relaycmd"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// relayCommand is `tollgate relay`: the built-in media relay on its own,
// from the media section of the configuration file (relaycmd.Run).
func relayCommand(args []string, stderr io.Writer) int {
	cfg, path, log, code := startDaemon("relay", args, stderr)
	if code != 0 {
		return code
	}
	return relaycmd.Run(relayConfig(cfg.Media.Builtin), path, version, log)
}

// relayConfig is the built-in relay's configuration from the media section
// (control sockets and notification targets as configured): the same for
// `tollgate relay` and the relay `tollgate serve` runs in its process. The
// relay gets its own copies of the lists, so that serve adding its loopback
// socket changes no configuration.
func relayConfig(b config.BuiltinMedia) relay.Config {
	return relay.Config{
		Control:       append([]string(nil), b.Control...),
		MediaIP:       b.MediaIP,
		AdvertiseIP:   b.AdvertiseIP,
		MediaIP6:      b.MediaIP6,
		AdvertiseIP6:  b.AdvertiseIP6,
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
