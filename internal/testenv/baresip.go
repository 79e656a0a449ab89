package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// baresipConfig is the configuration of a test's baresip: SIP and media on
// loopback only, no sound device (a 440 Hz sine as microphone, aubridge's
// null device as speaker; ausine 1.0.0 makes only 48 kHz stereo, which
// baresip resamples for G.711), the menu's commands driven over ctrl_tcp,
// and RTP ports above the kernel's ephemeral range and the zones
// FreeUDPRange hands to media relays, so a user agent never takes a port a
// relay of another test is about to bind.
const baresipConfig = `poll_method epoll
sip_listen 127.0.0.1:%[1]d
net_interface 127.0.0.1
call_local_timeout 120
call_max_calls 4
audio_player aubridge,%[3]s-out
audio_alert aubridge,%[3]s-alert
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
auplay_srate 48000
auplay_channels 2
rtp_ports 61000-64999
module_path %[4]s
module g711.so
module ausine.so
module aubridge.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%[2]d
`

// baresipModulePaths are where distributions put baresip's modules.
var baresipModulePaths = []string{
	"/usr/lib/baresip/modules",
	"/usr/lib/x86_64-linux-gnu/baresip/modules",
	"/usr/lib/aarch64-linux-gnu/baresip/modules",
	"/usr/lib64/baresip/modules",
}

// BaresipEvent is one event baresip reports on its control connection
// (CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED, TRANSFER_FAILED...).
type BaresipEvent struct {
	Type      string `json:"type"`
	Class     string `json:"class"`
	Direction string `json:"direction"` // incoming or outgoing
	PeerURI   string `json:"peeruri"`
	CallID    string `json:"id"` // baresip's own call id, not a Call-ID header
	Param     string `json:"param"`
}

// baresipReply is the answer to one control command.
type baresipReply struct {
	OK    bool   `json:"ok"`
	Data  string `json:"data"`
	Token string `json:"token"`
}

// Baresip is one running baresip user agent (Debian's baresip, 1.0.0 on
// Debian 12) started by StartBaresip: a real softphone that places,
// answers (automatically) and transfers calls, driven through its
// ctrl_tcp module's netstring JSON commands, which are the commands of its
// menu (dial, hangup, transfer, ...).
type Baresip struct {
	t    testing.TB
	user string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	ctrl net.Conn

	cmdMu sync.Mutex // one command at a time: replies are matched by token
	token int

	mu      sync.Mutex
	events  []BaresipEvent
	replies chan baresipReply
	changed chan struct{} // closed and replaced whenever an event arrives
}

// StartBaresip starts baresip as SIP user user on a free 127.0.0.1 port,
// answering every call it gets at once, and returns once it takes
// commands. It is stopped when the test ends; when the test failed, its
// output, SIP trace included, is written to the test log.
func StartBaresip(t testing.TB, user string) *Baresip {
	t.Helper()
	bin := RequireBinary(t, "baresip", "baresip")
	mods := ""
	for _, p := range baresipModulePaths {
		if _, err := os.Stat(filepath.Join(p, "ctrl_tcp.so")); err == nil {
			mods = p
			break
		}
	}
	if mods == "" {
		t.Fatalf("testenv: baresip's ctrl_tcp.so not found in %v", baresipModulePaths)
	}
	for attempt := 1; ; attempt++ {
		b := &Baresip{t: t, user: user, port: freeBaresipPort(t), dir: t.TempDir(),
			done: make(chan struct{}), replies: make(chan baresipReply, 1), changed: make(chan struct{})}
		ctrlPort := FreeTCPPort(t)
		cfg := fmt.Sprintf(baresipConfig, b.port, ctrlPort, user, mods)
		account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto\n", user, b.port)
		for name, text := range map[string]string{"config": cfg, "accounts": account, "contacts": ""} {
			if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o644); err != nil {
				t.Fatalf("testenv: baresip %s: %v", name, err)
			}
		}
		b.start(bin)
		err := b.connect(ctrlPort, 15*time.Second)
		if err == nil {
			t.Cleanup(b.cleanup)
			go b.read()
			return b
		}
		b.kill()
		<-b.done
		// baresip exits when another process took one of its ports between
		// the check and its bind; a fresh pair of ports is worth a try.
		if attempt < 3 && strings.Contains(b.Output(), "Address already in use") {
			t.Logf("testenv: baresip %s lost its ports, retrying", user)
			continue
		}
		t.Fatalf("testenv: baresip %s did not start: %v\n%s", user, err, b.Output())
	}
}

// freeBaresipPort returns a port free for SIP over UDP and TCP whose next
// port is free for TCP too: baresip always listens for SIP over TLS on the
// port after its own.
func freeBaresipPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := FreePort(t)
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("testenv: no port pair free for baresip")
	return 0
}

// start launches baresip with its SIP trace (-s) in output.log; as for
// SIPp, on one locked OS thread so that Pdeathsig kills it with the test
// binary.
func (b *Baresip) start(bin string) {
	out, err := os.Create(filepath.Join(b.dir, "output.log"))
	if err != nil {
		b.t.Fatalf("testenv: baresip output log: %v", err)
	}
	cmd := exec.Command(bin, "-f", b.dir, "-s")
	cmd.Dir = b.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b.cmd = cmd
	if err := startPinned(cmd, out, b.done, func() {}); err != nil {
		b.t.Fatalf("testenv: start %s: %v", bin, err)
	}
}

// connect opens the control connection once baresip listens on it, which
// it does after its SIP transports are bound.
func (b *Baresip) connect(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		select {
		case <-b.done:
			return errors.New("baresip exited")
		default:
		}
		if OwnsSocket(b.cmd.Process.Pid, "tcp", port) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return fmt.Errorf("control connection: %w", err)
			}
			b.ctrl = c
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no control socket on %s within %v", addr, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// read takes the netstrings baresip writes on the control connection:
// replies to commands and events.
func (b *Baresip) read() {
	r := bufio.NewReader(b.ctrl)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			return
		}
		var kind struct {
			Event    bool `json:"event"`
			Response bool `json:"response"`
		}
		if json.Unmarshal(msg, &kind) != nil {
			continue
		}
		switch {
		case kind.Event:
			var ev BaresipEvent
			if json.Unmarshal(msg, &ev) == nil {
				b.mu.Lock()
				b.events = append(b.events, ev)
				close(b.changed)
				b.changed = make(chan struct{})
				b.mu.Unlock()
			}
		case kind.Response:
			var rep baresipReply
			if json.Unmarshal(msg, &rep) == nil {
				select {
				case b.replies <- rep:
				default: // a reply nobody waits for any more
				}
			}
		}
	}
}

// readNetstring reads one "length:payload," netstring.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[:len(head)-1]))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without its comma")
	}
	return buf[:n], nil
}

// Command runs one of baresip's menu commands with its parameters (as
// typed after the command in its console) and returns the reply's data; a
// command baresip refuses is an error.
func (b *Baresip) Command(ctx context.Context, command, params string) (string, error) {
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	b.token++
	token := strconv.Itoa(b.token)
	msg, err := json.Marshal(map[string]string{"command": command, "params": params, "token": token})
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(b.ctrl, "%d:%s,", len(msg), msg); err != nil {
		return "", fmt.Errorf("baresip %s: %s: %w", b.user, command, err)
	}
	for {
		select {
		case rep := <-b.replies:
			if rep.Token != token {
				continue
			}
			if !rep.OK {
				return rep.Data, fmt.Errorf("baresip %s: %s %s: %s", b.user, command, params, strings.TrimSpace(rep.Data))
			}
			return rep.Data, nil
		case <-b.done:
			return "", fmt.Errorf("baresip %s exited during %s", b.user, command)
		case <-ctx.Done():
			return "", fmt.Errorf("baresip %s: %s: %w", b.user, command, ctx.Err())
		}
	}
}

// AwaitEvent waits until baresip has reported an event for which match
// holds, and returns the first such event; events reported before the
// call count too.
func (b *Baresip) AwaitEvent(ctx context.Context, what string, match func(BaresipEvent) bool) (BaresipEvent, error) {
	for {
		b.mu.Lock()
		changed := b.changed
		for _, ev := range b.events {
			if match(ev) {
				b.mu.Unlock()
				return ev, nil
			}
		}
		b.mu.Unlock()
		select {
		case <-changed:
		case <-b.done:
			return BaresipEvent{}, fmt.Errorf("baresip %s exited waiting for %s", b.user, what)
		case <-ctx.Done():
			return BaresipEvent{}, fmt.Errorf("baresip %s: no %s: %w (events: %v)", b.user, what, ctx.Err(), b.Events())
		}
	}
}

// Events are the events baresip has reported so far, oldest first.
func (b *Baresip) Events() []BaresipEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BaresipEvent(nil), b.events...)
}

// Addr is the "127.0.0.1:port" baresip takes SIP on.
func (b *Baresip) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Output is what baresip has printed so far: its log and the SIP trace of
// every message it sent and received ("UDP from -> to" then the message).
func (b *Baresip) Output() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "output.log"))
	return string(bytes.ReplaceAll(data, []byte{0}, nil))
}

// BaresipMessage is one SIP message in baresip's trace.
type BaresipMessage struct {
	From, To string // "127.0.0.1:port" it came from and went to
	Text     string // the message, CRLFs as sent
}

// Sent reports whether baresip sent the message (rather than received it).
func (m BaresipMessage) Sent(b *Baresip) bool { return m.From == b.Addr() }

// StartLine is the message's request or status line.
func (m BaresipMessage) StartLine() string {
	line, _, _ := strings.Cut(m.Text, "\r\n")
	return line
}

// Header is the value of the message's first header called name (case
// insensitive, without compact forms), "" if it has none.
func (m BaresipMessage) Header(name string) string {
	head, _, _ := strings.Cut(m.Text, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Body is the message's body.
func (m BaresipMessage) Body() string {
	_, body, _ := strings.Cut(m.Text, "\r\n\r\n")
	return body
}

// SIPTrace is every SIP message baresip has sent and received so far, in
// order, read from its trace: a "#" line, "UDP from -> to", the message,
// then the end of the trace's colour. A message baresip is still printing
// (no end of colour yet) is not one yet: read half-way, it would match on
// its start line and lack the headers after the cut.
func (b *Baresip) SIPTrace() []BaresipMessage {
	var msgs []BaresipMessage
	out := b.Output()
	for {
		i := strings.Index(out, "#\n")
		if i < 0 {
			return msgs
		}
		out = out[i+2:]
		addrs, rest, ok := strings.Cut(out, "\n")
		f := strings.Fields(addrs)
		if !ok || len(f) != 4 || f[2] != "->" {
			continue
		}
		text, _, complete := strings.Cut(rest, "\x1b[;m")
		if !complete {
			return msgs
		}
		msgs = append(msgs, BaresipMessage{From: f[1], To: f[3], Text: text})
		out = rest
	}
}

// kill ends baresip's process group at once.
func (b *Baresip) kill() {
	select {
	case <-b.done:
	default:
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (b *Baresip) cleanup() {
	if b.ctrl != nil {
		b.ctrl.Close()
	}
	b.kill()
	<-b.done
	if b.t.Failed() {
		out := b.Output()
		if len(out) > 32<<10 {
			out = "…" + out[len(out)-32<<10:]
		}
		b.t.Logf("testenv: baresip %s (port %d) output:\n%s", b.user, b.port, out)
	}
}
