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
	"syscall"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// buildTollgate compiles the switch from the checkout at root into dir.
func buildTollgate(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "tollgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/tollgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tollgate: %w\n%s", err, out)
	}
	return bin, nil
}

// tollgate is one running `tollgate serve`.
type tollgate struct {
	*child
	addr string // 127.0.0.1:port of its UDP listener
	port int
	log  string // its stderr
}

// tgConfig is what differs between the runs' switch configurations.
type tgConfig struct {
	// gateway is where the one static route sends every call; empty with
	// radius set, where the Access-Accept's Routing AVPairs are the routes.
	gateway  string
	maxCalls int
	radius   string // a radius: section, or empty for none
	// pprof, when not empty, is the loopback address the switch serves
	// its runtime profiles on (-pprof), for a profiled run.
	pprof string
}

// startTollgate writes a config for c, starts the switch with its own CDR
// folder, and returns once it answers OPTIONS.
func startTollgate(ctx context.Context, bin, dir string, c tgConfig) (*tollgate, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tollgate folder: %w", err)
	}
	port, err := testenv.PickUDPPort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var routes string
	if c.gateway != "" {
		routes = fmt.Sprintf(`routes:
  - name: bench
    prefix: ""
    gateways:
      - address: %s
        transport: udp
`, c.gateway)
	}
	// Logs at warn: an info line per call would measure the log writer.
	// max_duration 0 and a large max_calls keep the switch's own limits out
	// of the way; drain is short because the driver stops it idle. The web
	// UI stays on, as in production, on a port of its own so that two
	// benchmark runs on one machine do not collide on the default 8080.
	conf := fmt.Sprintf(`sip:
  listen:
    - udp:%s
web:
  listen: 127.0.0.1:0
limits:
  max_calls: %d
timers:
  max_duration: 0s
  drain: 2s
%slog:
  level: warn
  format: text
cdr:
  dir: %s
%s`, addr, c.maxCalls, routes, filepath.Join(dir, "cdr"), c.radius)
	confPath := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write tollgate config: %w", err)
	}
	logPath := filepath.Join(dir, "tollgate.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("tollgate log: %w", err)
	}
	defer logFile.Close()
	args := []string{"serve", "-c", confPath}
	if c.pprof != "" {
		args = append(args, "-pprof", c.pprof)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	ch, err := startChild("tollgate", cmd)
	if err != nil {
		return nil, err
	}
	t := &tollgate{child: ch, addr: addr, port: port, log: logPath}
	if err := awaitOptions(ctx, "tollgate", t.addr, t.child, t.log, 20*time.Second); err != nil {
		t.shutdown()
		return nil, err
	}
	return t, nil
}

// awaitOptions sends out-of-dialog OPTIONS to addr until the server there
// (the process c, logging to log) answers, which proves its SIP stack is
// serving rather than merely bound.
func awaitOptions(ctx context.Context, name, addr string, c *child, log string, limit time.Duration) error {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("OPTIONS probe socket: %w", err)
	}
	defer conn.Close()
	dst, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return err
	}
	local := conn.LocalAddr().String()
	deadline := time.Now().Add(limit)
	buf := make([]byte, 4096)
	for n := 1; ; n++ {
		if c.exited() {
			return fmt.Errorf("%s exited with status %d: %s", name, c.exitCode(), tailFile(log, 1500))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer OPTIONS on %s within %v: %s", name, addr, limit, tailFile(log, 1500))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := fmt.Sprintf("OPTIONS sip:ping@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bK-bench-%d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:bench@%s>;tag=bench%d\r\nTo: <sip:ping@%s>\r\n"+
			"Call-ID: bench-ping-%d@127.0.0.1\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n",
			addr, local, n, local, n, addr, n, n)
		if _, err := conn.WriteTo([]byte(msg), dst); err != nil {
			return fmt.Errorf("OPTIONS probe: %w", err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		m, _, err := conn.ReadFrom(buf)
		if err == nil && strings.HasPrefix(string(buf[:m]), "SIP/2.0 200") {
			return nil
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			time.Sleep(250 * time.Millisecond) // ICMP refused: not bound yet
		}
	}
}

// shutdown stops the switch as systemd would, and kills it if it hangs.
func (t *tollgate) shutdown() {
	t.stop(syscall.SIGTERM, 20*time.Second)
}
