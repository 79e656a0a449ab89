package relaycmd

import (
	"log/slog"
	"testing"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// TestRunNeedsAControlSocket: without media.builtin.control the relay has
// nobody to answer, and says so instead of running.
func TestRunNeedsAControlSocket(t *testing.T) {
	t.Parallel()
	rc := relay.Config{PortMin: 10000, PortMax: 10100}
	if code := Run(rc, "test.yaml", "test", slog.New(slog.DiscardHandler)); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}
