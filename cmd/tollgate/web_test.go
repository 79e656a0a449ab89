package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestServeFailsWhenWebCannotListen: a web address that cannot be bound
// used to log "web UI stopped" while the process ran on without its UI;
// the start now fails, so systemd shows the unit failed.
func TestServeFailsWhenWebCannotListen(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	cfg := filepath.Join(dir, "tollgate.yaml")
	body := fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\"]\nweb:\n  listen: %s\ncdr:\n  dir: %s\n",
		port, taken.Addr(), filepath.Join(dir, "cdr"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "-c", cfg).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tollgate serve still running with its web address taken:\n%s", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 ||
		!strings.Contains(string(out), "cannot start") || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("exit %v, want 1 saying why:\n%s", err, out)
	}
}

// TestServeWarnsOfPlainHTTP: a web UI on plain HTTP beyond loopback, where
// browsers drop the Secure session cookie and logins loop, is warned of in
// the log at start — with insecure_cookies, that passwords cross in clear.
func TestServeWarnsOfPlainHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ web, says string }{
		{"", "logins come back to the login page"},
		{"\n  insecure_cookies: true", "cross the network in clear"},
	} {
		port := testenv.FreeTCPPort(t)
		p := startTollgate(t, fmt.Sprintf("web:\n  listen: 0.0.0.0:%d%s\n", port, tc.web))
		line := p.waitLog(tc.says, 30*time.Second)
		if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, fmt.Sprintf(":%d", port)) {
			t.Errorf("the warning is not a WARN naming the address: %s", line)
		}
	}
}
