package rtpproxyctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

var lo = netip.MustParseAddr("127.0.0.1")

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fast settings keep the failure paths short; the retry count stays
// generous so a loaded machine does not lose a reply for good.
var fast = Options{Timeout: 100 * time.Millisecond, Retries: 3}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if cfg.Options == (Options{}) {
		cfg.Options = fast
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 20 * time.Millisecond
	}
	cfg.Logger = quiet()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func audio(port int) []Stream {
	return []Stream{{Index: 0, Addr: lo, Port: port, PayloadTypes: []int{0}}}
}

// TestKamailioCommands checks the commands sent for a call against the
// capture of Kamailio's rtpproxy module in the spec (4.3), and the cookies.
func TestKamailioCommands(t *testing.T) {
	t.Parallel()
	r := startUDP(t, newEmulator())
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	m := p.Open(Dialog{CallID: "1-26686@127.0.0.1", CallerTag: "26686SIPpTag001", CalleeTag: "26684SIPpTag011"})
	off, err := m.Offer(ctx(t), Caller, audio(6008))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := m.Answer(ctx(t), Callee, audio(6004))
	if err != nil {
		t.Fatal(err)
	}
	if off[0] != (Endpoint{lo, 30000}) || ans[0] != (Endpoint{lo, 30002}) {
		t.Fatalf("offer %v answer %v", off, ans)
	}
	st, err := m.Delete(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.CallerToCallee.Packets != cdr.Known(7) || st.CalleeToCaller.Packets != cdr.Known(5) || st.Relayed != 12 {
		t.Fatalf("stats %+v", st)
	}
	want := []string{
		"Uc0 1-26686@127.0.0.1 127.0.0.1 6008 26686SIPpTag001;1 26684SIPpTag011;1",
		"Lc0 1-26686@127.0.0.1 127.0.0.1 6004 26686SIPpTag001;1 26684SIPpTag011;1",
		"Q 1-26686@127.0.0.1 26686SIPpTag001;1 26684SIPpTag011;1 && D",
	}
	if got := r.commands(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each command has its own cookie; a resend (loaded machine) repeats
	// its command's datagram exactly.
	cookie := regexp.MustCompile(fmt.Sprintf(`^%d_\d+ `, os.Getpid()))
	seen := map[string]string{}
	for _, d := range r.received() {
		c := cookie.FindString(d)
		if prev, ok := seen[c]; c == "" || (ok && prev != d) {
			t.Fatalf("bad or reused cookie in %q", d)
		}
		seen[c] = d
	}
	if m.Name() != r.address() {
		t.Fatalf("name %q", m.Name())
	}
}

// TestCallFlow drives a call through re-INVITEs from both sides, hold,
// two streams and a late offer, against the emulator's port rules.
func TestCallFlow(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	m := p.Open(Dialog{CallID: "call-1@test", CallerTag: "a", CalleeTag: "b"})
	two := []Stream{{Index: 0, Addr: lo, Port: 41000}, {Index: 1, Addr: lo, Port: 0}, {Index: 2, Addr: lo, Port: 41010}}
	off, err := m.Offer(ctx(t), Caller, two)
	if err != nil {
		t.Fatal(err)
	}
	if off[0].Port != 30000 || off[1] != (Endpoint{}) || off[2].Port != 30002 {
		t.Fatalf("offer %v", off)
	}
	ans, err := m.Answer(ctx(t), Callee, []Stream{{Index: 0, Addr: lo, Port: 42000}, {Index: 2, Addr: lo, Port: 42010}})
	if err != nil {
		t.Fatal(err)
	}
	pa0, pa2 := ans[0].Port, ans[1].Port
	// Callee re-INVITE: U with swapped tags returns the caller-facing port.
	re, err := m.Offer(ctx(t), Callee, []Stream{{Index: 0, Addr: lo, Port: 42000}, {Index: 2, Addr: lo, Port: 42010}})
	if err != nil || re[0].Port != pa0 || re[1].Port != pa2 {
		t.Fatalf("callee re-INVITE %v %v (want %d %d)", re, err, pa0, pa2)
	}
	back, err := m.Answer(ctx(t), Caller, []Stream{{Index: 0, Addr: lo, Port: 41000}, {Index: 2, Addr: lo, Port: 41010}})
	if err != nil || back[0].Port != 30000 || back[1].Port != 30002 {
		t.Fatalf("caller answer %v %v", back, err)
	}
	// Hold with 0.0.0.0: the same port, and 0.0.0.0 kept for the SDP.
	hold, err := m.Offer(ctx(t), Caller, []Stream{{Index: 0, Addr: netip.IPv4Unspecified(), Port: 41000}})
	if err != nil || hold[0] != (Endpoint{netip.IPv4Unspecified(), 30000}) {
		t.Fatalf("hold %v %v", hold, err)
	}
	if !strings.Contains(strings.Join(r.commands(), "\n"), "U call-1@test 0.0.0.0 41000 a;1 b;1") {
		t.Fatalf("hold not sent as 0.0.0.0:\n%s", strings.Join(r.commands(), "\n"))
	}
	st, err := m.Delete(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.CallerToCallee.Packets != cdr.Known(14) || st.CalleeToCaller.Packets != cdr.Known(10) {
		t.Fatalf("stats %+v", st)
	}
	if emu.count() != 0 {
		t.Fatalf("sessions left: %d", emu.count())
	}
	if _, err := m.Offer(ctx(t), Caller, audio(41000)); err == nil {
		t.Fatal("offer after delete accepted")
	}
	if st, err := m.Delete(ctx(t)); err != nil || st != (Stats{}) {
		t.Fatalf("second delete %v %v", st, err)
	}
}

func TestLateOfferAndHoldAnchored(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}, AnchorHold: true})
	m := p.Open(Dialog{CallID: "late@test", CallerTag: "a", CalleeTag: "b"})
	if _, err := m.Offer(ctx(t), Callee, audio(42000)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Answer(ctx(t), Caller, audio(41000)); err != nil {
		t.Fatal(err)
	}
	hold, err := m.Offer(ctx(t), Caller, []Stream{{Index: 0, Addr: netip.IPv4Unspecified(), Port: 41000}})
	if err != nil || hold[0].Addr != lo {
		t.Fatalf("anchored hold %v %v", hold, err)
	}
	st, err := m.Delete(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// The callee created the session, so Q's first counter is the callee's.
	if st.CalleeToCaller.Packets != cdr.Known(7) || st.CallerToCallee.Packets != cdr.Known(5) {
		t.Fatalf("stats %+v", st)
	}
	cmds := strings.Join(r.commands(), "\n")
	if !strings.Contains(cmds, "Q late@test b;1 a;1 && D") {
		t.Fatalf("commands:\n%s", cmds)
	}
}

func TestDeleteWithoutFusedQuery(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	delete(emu.caps, capQueryDelete)
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	m := p.Open(Dialog{CallID: "old@test", CallerTag: "a", CalleeTag: "b"})
	if _, err := m.Offer(ctx(t), Caller, []Stream{{Index: 0, Addr: lo, Port: 4000}, {Index: 1, Addr: lo, Port: 4002}}); err != nil {
		t.Fatal(err)
	}
	st, err := m.Delete(ctx(t))
	if err != nil || st.CallerToCallee.Packets != cdr.Known(14) {
		t.Fatalf("%+v %v", st, err)
	}
	cmds := r.commands()
	want := []string{"Q old@test a;1 b;1", "Q old@test a;2 b;2", "D old@test a b"}
	if got := strings.Join(cmds[len(cmds)-3:], "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s", got)
	}
	if emu.count() != 0 {
		t.Fatal("D did not delete every media number")
	}
}

func TestRetransmitSameCookie(t *testing.T) {
	t.Parallel()
	r := startUDP(t, newEmulator())
	c, err := NewClient(r.address(), Options{Timeout: 200 * time.Millisecond, Retries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r.drop.Store(2)
	got, err := c.Command(ctx(t), "V")
	if err != nil || got != "20040107" {
		t.Fatalf("%q %v", got, err)
	}
	rx := r.received()
	if len(rx) < 3 || rx[0] != rx[1] || rx[1] != rx[2] || rx[len(rx)-1] != rx[0] {
		t.Fatalf("datagrams %q: want copies of one", rx)
	}
	// A silent relay: every retry is sent, then ErrTimeout.
	r.silent.Store(true)
	c2, _ := NewClient(r.address(), Options{Timeout: 20 * time.Millisecond, Retries: 2})
	defer c2.Close()
	if _, err := c2.Command(ctx(t), "V"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	// The cancelled context wins over the retries.
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c2.Command(cctx, "V"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestReplyErrors(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	r := startUDP(t, emu)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}})
	emu.script(func(cmd string) (string, bool) {
		switch {
		case strings.Contains(cmd, "garbage@"):
			return "hello world", true
		case strings.Contains(cmd, "full@"):
			return "E72", true
		case strings.Contains(cmd, "wild@"):
			return "31000", true
		}
		return "", false
	})
	_, err := p.Open(Dialog{CallID: "garbage@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, audio(4000))
	if !errors.Is(err, ErrMalformedReply) {
		t.Fatalf("garbage: %v", err)
	}
	_, err = p.Open(Dialog{CallID: "full@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, audio(4000))
	var pe *ProtocolError
	if !errors.Is(err, ErrRefused) || !errors.As(err, &pe) || pe.Code != 72 {
		t.Fatalf("full: %v", err)
	}
	_, err = p.Open(Dialog{CallID: "wild@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, audio(4000))
	if !errors.Is(err, ErrMalformedReply) {
		t.Fatalf("port-only without Advertise: %v", err)
	}
	// None of that took the relay out of service: a normal call works.
	if _, err := p.Open(Dialog{CallID: "ok@t", CallerTag: "a", CalleeTag: "b"}).Offer(ctx(t), Caller, audio(4000)); err != nil {
		t.Fatal(err)
	}
	// An answer for a session the relay does not know: "0".
	m := p.Open(Dialog{CallID: "lost@t", CallerTag: "a", CalleeTag: "b"})
	if _, err := m.Offer(ctx(t), Caller, audio(4000)); err != nil {
		t.Fatal(err)
	}
	emu.expire(t, "lost@t")
	if _, err := m.Answer(ctx(t), Callee, audio(5000)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("L miss: %v", err)
	}
	// A second stream refused: the first one, already created, is deleted.
	emu.script(func(cmd string) (string, bool) {
		if strings.Contains(cmd, "part@t") && strings.Contains(cmd, "a;2") {
			return "E71", true
		}
		return "", false
	})
	before := emu.count()
	part := p.Open(Dialog{CallID: "part@t", CallerTag: "a"})
	if _, err := part.Offer(ctx(t), Caller, []Stream{{Index: 0, Addr: lo, Port: 4000}, {Index: 1, Addr: lo, Port: 4002}}); !errors.Is(err, ErrRefused) {
		t.Fatalf("partial: %v", err)
	}
	if emu.count() != before {
		t.Fatal("first stream of a refused offer left on the relay")
	}
	if st, err := part.Delete(ctx(t)); err != nil || st != (Stats{}) {
		t.Fatalf("delete of a refused call: %v", err)
	}
	if st := p.Status(); !st[0].InUse {
		t.Fatal("relay taken out by protocol errors")
	}
}

func TestAdvertisedAddress(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	emu.script(func(cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "U") {
			return "31000", true
		}
		return "", false
	})
	r := startUDP(t, emu)
	adv := netip.MustParseAddr("192.0.2.1")
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address(), Advertise: adv}}})
	m := p.Open(Dialog{CallID: "w@t", CallerTag: "a"})
	eps, err := m.Offer(ctx(t), Caller, audio(4000))
	if err != nil || eps[0] != (Endpoint{adv, 31000}) {
		t.Fatalf("%v %v", eps, err)
	}
	if _, err := m.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.commands(), "\n")
	if got != "Uc0 w@t 127.0.0.1 4000 a;1\nQ w@t a;1 && D" {
		t.Fatalf("commands without a callee tag:\n%s", got)
	}
}

// TestWeightsFailoverAndProbe: calls spread by weight; a relay that stops
// answering is left by new calls, its calls keep their media settings and
// delete at once, and the background probe brings it back.
func TestWeightsFailoverAndProbe(t *testing.T) {
	t.Parallel()
	heavy, light := startUDP(t, newEmulator()), startUDP(t, newEmulator())
	p := newPool(t, Config{Relays: []RelayConfig{{Address: heavy.address(), Weight: 3}, {Address: light.address(), Weight: 1}}})
	count := map[string]int{}
	var onHeavy MediaRelay
	for i := range 200 {
		m := p.Open(Dialog{CallID: fmt.Sprintf("w%d@t", i), CallerTag: "a", CalleeTag: "b"})
		if _, err := m.Offer(ctx(t), Caller, audio(4000)); err != nil {
			t.Fatal(err)
		}
		count[m.Name()]++
		if m.Name() == heavy.address() && onHeavy == nil {
			onHeavy = m
		}
	}
	if count[heavy.address()] <= count[light.address()] || count[light.address()] == 0 {
		t.Fatalf("weights ignored: %v", count)
	}
	if _, err := onHeavy.Answer(ctx(t), Callee, audio(5000)); err != nil {
		t.Fatal(err)
	}

	heavy.silent.Store(true)
	for i := range 20 {
		m := p.Open(Dialog{CallID: fmt.Sprintf("f%d@t", i), CallerTag: "a", CalleeTag: "b"})
		if _, err := m.Offer(ctx(t), Caller, audio(4000)); err != nil {
			t.Fatal(err)
		}
		if m.Name() != light.address() {
			t.Fatalf("call %d placed on the silent relay", i)
		}
	}
	if p.Status()[0].InUse {
		t.Fatal("silent relay still in service")
	}
	// The stuck call's re-INVITE gets its old endpoints; a new stream fails.
	re, err := onHeavy.Offer(ctx(t), Caller, audio(4100))
	if err != nil || re[0].Port == 0 {
		t.Fatalf("re-INVITE on a dead relay: %v %v", re, err)
	}
	if _, err := onHeavy.Offer(ctx(t), Caller, []Stream{{Index: 1, Addr: lo, Port: 4200}}); !errors.Is(err, ErrRelayDown) {
		t.Fatalf("new stream on a dead relay: %v", err)
	}
	if _, err := onHeavy.Delete(ctx(t)); !errors.Is(err, ErrRelayDown) {
		t.Fatalf("delete on a dead relay: %v", err)
	}

	heavy.silent.Store(false)
	testenv.Eventually(t, 20*time.Second, "a probe to bring the relay back", func() bool { return p.Status()[0].InUse })
	if f := p.Status()[0].Features; !f.QueryDelete || !f.Codecs || f.Notify {
		t.Fatalf("features after re-probe: %+v", f)
	}
}

func TestNoRelay(t *testing.T) {
	t.Parallel()
	r := startUDP(t, newEmulator())
	r.silent.Store(true)
	p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}, Options: Options{Timeout: 20 * time.Millisecond, Retries: 1}, ProbeInterval: time.Hour})
	if p.Status()[0].InUse {
		t.Fatal("silent relay in service")
	}
	if _, err := p.Open(Dialog{CallID: "x", CallerTag: "a"}).Offer(ctx(t), Caller, audio(4000)); !errors.Is(err, ErrNoRelay) {
		t.Fatalf("err %v", err)
	}
}

func TestUnsupportedVersion(t *testing.T) {
	t.Parallel()
	emu := newEmulator()
	delete(emu.caps, capMediaNumbers)
	r := startUDP(t, emu)
	c, _ := NewClient(r.address(), fast)
	defer c.Close()
	if err := c.Probe(ctx(t)); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err %v", err)
	}
}

func TestStreamTransports(t *testing.T) {
	t.Parallel()
	for _, persistent := range []bool{false, true} {
		emu := newEmulator()
		addr := startUnix(t, emu, persistent)
		p := newPool(t, Config{Relays: []RelayConfig{{Address: addr}}})
		if !p.Status()[0].InUse {
			t.Fatalf("%s not in service", addr)
		}
		m := p.Open(Dialog{CallID: "u@t", CallerTag: "a", CalleeTag: "b"})
		if _, err := m.Offer(ctx(t), Caller, audio(4000)); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if ans, err := m.Answer(ctx(t), Callee, audio(5000)); err != nil || ans[0].Port != 30002 {
			t.Fatalf("%s: %v %v", addr, ans, err)
		}
		if st, err := m.Delete(ctx(t)); err != nil || st.Relayed != 12 {
			t.Fatalf("%s: %+v %v", addr, st, err)
		}
	}
	// A unix socket nobody listens on is a dead relay, not a hang.
	c, err := NewClient("unix:"+t.TempDir()+"/none.sock", fast)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Command(ctx(t), "V"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v", err)
	}
}

func TestNotify(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{
		fmt.Sprintf("tcp:127.0.0.1:%d", testenv.FreeTCPPort(t)),
		"unix:" + t.TempDir() + "/notify.sock",
	} {
		emu := newEmulator()
		emu.caps[capNotify] = true
		r := startUDP(t, emu)
		timeouts := make(chan Dialog, 4)
		p := newPool(t, Config{Relays: []RelayConfig{{Address: r.address()}}, NotifyListen: listen,
			OnTimeout: func(d Dialog) { timeouts <- d }})
		d := Dialog{CallID: "tmo-1@test", CallerTag: "a", CalleeTag: "b"}
		m := p.Open(d)
		if _, err := m.Offer(ctx(t), Caller, []Stream{{Index: 0, Addr: lo, Port: 4000}, {Index: 1, Addr: lo, Port: 4002}}); err != nil {
			t.Fatal(err)
		}
		if cmd := r.commands()[0]; !strings.HasPrefix(cmd, "U tmo-1@test 127.0.0.1 4000 a;1 b;1 "+listen+" tg") {
			t.Fatalf("U without notify args: %q", cmd)
		}
		// Both media sessions expire; the call hears it once.
		emu.expire(t, d.CallID)
		select {
		case got := <-timeouts:
			if got != d {
				t.Fatalf("timeout for %+v", got)
			}
		case <-ctx(t).Done():
			t.Fatalf("%s: no timeout callback", listen)
		}
		if st, err := m.Delete(ctx(t)); err != nil || st != (Stats{}) {
			t.Fatalf("delete after timeout: %+v %v", st, err)
		}
		p.Close()
		select {
		case got := <-timeouts:
			t.Fatalf("second timeout for %+v", got)
		default:
		}
	}
}
