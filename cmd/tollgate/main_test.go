package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// binary is the tollgate binary under test, built once by TestMain: these
// tests run the real process, signals and all.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tollgate")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tollgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testenv.PostgresMain(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running "tollgate serve".
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	cfg  string   // path of its configuration file
	args []string // the command line, when not "serve -c cfg"
	port int      // its SIP port on ip
	ip   string   // its SIP address: 127.0.0.1, or another loopback address (startTollgateAt)
	// webPort is its web UI's port on 127.0.0.1, when the test left the
	// web: section to writeConfig.
	webPort int
	dir     string
	mu      sync.Mutex
	log     bytes.Buffer
	lines   chan string
	exited  chan struct{}
}

// startTollgate writes a configuration (a sip: section on a free port, a
// cdr: section in a temp dir, then body) and runs tollgate serve on it.
func startTollgate(t testing.TB, body string, env ...string) *proc {
	t.Helper()
	return startTollgateAt(t, "127.0.0.1", body, env...)
}

// startTollgateAt is startTollgate with SIP on another loopback address
// (127.0.0.2, ...), as a node of a cluster on its own address.
func startTollgateAt(t testing.TB, ip, body string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, ip: ip, port: testenv.FreePort(t), dir: t.TempDir(), lines: make(chan string, 1000),
		exited: make(chan struct{})}
	p.cfg = filepath.Join(p.dir, "tollgate.yaml")
	p.writeConfig(body)
	p.start(env...)
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("tollgate log:\n%s", p.output())
		}
	})
	return p
}

func (p *proc) writeConfig(body string) {
	p.t.Helper()
	cdrDir := "cdr:\n  dir: " + filepath.Join(p.dir, "cdr") + "\n"
	if strings.Contains(body, "cdr:\n") {
		body = strings.Replace(body, "cdr:\n", cdrDir, 1)
	} else {
		body += cdrDir
	}
	if !strings.Contains(body, "web:") {
		// Not the default port: other tollgates may hold it.
		p.webPort = testenv.FreePort(p.t)
		body += fmt.Sprintf("web:\n  listen: 127.0.0.1:%d\n", p.webPort)
	}
	cfg := fmt.Sprintf("sip:\n  listen: [\"udp:%s:%d\", \"tcp:%s:%d\"]\nlog:\n  format: json\n%s",
		p.ip, p.port, p.ip, p.port, body)
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *proc) start(env ...string) {
	p.t.Helper()
	args := p.args
	if args == nil {
		args = []string{"serve", "-c", p.cfg}
	}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	p.waitLog("SIP listening", 20*time.Second)
}

func (p *proc) addr() string { return fmt.Sprintf("%s:%d", p.ip, p.port) }

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits for a log line containing s.
func (p *proc) waitLog(s string, within time.Duration) string {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-p.exited:
			p.t.Fatalf("tollgate exited waiting for %q:\n%s", s, p.output())
		case <-deadline:
			p.t.Fatalf("no log line with %q within %v", s, within)
		}
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (p *proc) waitExit(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		p.t.Fatalf("tollgate still running after %v", within)
		return -1
	}
}

// sippRun runs a SIPp UAC scenario to completion against the switch.
func (p *proc) sippRun(t *testing.T, o testenv.SIPpOptions) testenv.SIPpStats {
	t.Helper()
	o.Remote = p.addr()
	s := testenv.StartSIPp(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := s.Wait(ctx)
	if err != nil {
		t.Fatalf("SIPp %s: %v (%s)", o.Scenario, err, st)
	}
	return st
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
