package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a running redis-server, private to one test: its own port on
// 127.0.0.1, its own directory, no persistence. A test can stop it and start
// it again on the same port to show what the cluster does while it is gone.
type Redis struct {
	// Addr is its address, "127.0.0.1:port".
	Addr string

	t    testing.TB
	bin  string
	dir  string
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan error
	logs    *bytes.Buffer
	running bool
}

// StartRedis runs Debian's redis-server (installed when missing) on a free
// loopback port, waits until it answers PING and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{
		t:    t,
		bin:  RequireBinary(t, "redis-server", "redis-server"),
		dir:  t.TempDir(),
		port: FreeTCPPort(t),
	}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			r.mu.Lock()
			if r.logs != nil {
				t.Logf("redis-server output:\n%s", r.logs.String())
			}
			r.mu.Unlock()
		}
	})
	r.Start()
	return r
}

// Start starts the server again after Stop, on the same port and empty: the
// tests run it without persistence, as a cluster's counters and heartbeats
// are rebuilt by the nodes within one heartbeat.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return
	}
	// No save, no appendonly: nothing a test needs outlives the process.
	// protected-mode off only matters without a bind; it is bound to loopback.
	cmd := exec.Command(r.bin, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", "", "--unixsocket", "")
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testenv: start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r.cmd, r.exited, r.logs, r.running = cmd, exited, logs, true
	deadline := time.Now().Add(15 * time.Second)
	for !r.ping() {
		select {
		case err := <-exited:
			r.running = false
			r.t.Fatalf("testenv: redis-server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testenv: redis-server did not answer PING within 15s\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval: a refused connection returns at once
	}
}

// Stop ends the server and waits for it to be gone, so that the next
// connection to Addr is refused.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return
	}
	r.running = false
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// ping reports whether the server answers PING within a second.
func (r *Redis) ping() bool {
	c, err := net.DialTimeout("tcp4", r.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "+PONG")
}
