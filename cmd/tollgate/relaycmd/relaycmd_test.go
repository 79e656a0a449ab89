package relaycmd

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// TestRunNeedsAControlSocket: without media.builtin.control the relay has
// nobody to answer, and says so instead of running.
func TestRunNeedsAControlSocket(t *testing.T) {
	cfg, err := config.Parse([]byte("routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:5070\"}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Media.Builtin.Control = nil
	if code := Run(cfg, "test.yaml", "test", slog.New(slog.DiscardHandler)); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

// TestConfigCopiesLists: the relay gets its own copies of the socket lists,
// so that serve adding its loopback socket changes no configuration.
func TestConfigCopiesLists(t *testing.T) {
	b := config.BuiltinMedia{Control: []string{"udp:127.0.0.1:7722"}, Notify: []string{"unix:/tmp/n"}, PortMin: 10000, PortMax: 10100}
	rc := Config(b)
	rc.Control[0], rc.Notify[0] = "x", "y"
	if b.Control[0] != "udp:127.0.0.1:7722" || b.Notify[0] != "unix:/tmp/n" || rc.PortMin != 10000 || rc.PortMax != 10100 {
		t.Errorf("config %+v from %+v", rc, b)
	}
	if !slices.Equal(Config(b).Control, b.Control) {
		t.Errorf("control %v", Config(b).Control)
	}
}
