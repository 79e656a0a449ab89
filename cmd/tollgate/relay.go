package main

import (
	"io"

	"github.com/tollgate/tollgate/cmd/tollgate/relaycmd"
)

// relayCommand is `tollgate relay`: the built-in media relay on its own,
// from the media section of the configuration file (relaycmd.Run).
func relayCommand(args []string, stderr io.Writer) int {
	cfg, path, log, code := startDaemon("relay", args, stderr)
	if code != 0 {
		return code
	}
	return relaycmd.Run(cfg, path, version, log)
}
