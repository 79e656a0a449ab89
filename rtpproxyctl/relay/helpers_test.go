package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// startRelay runs a relay with cfg until the test ends. Ports default to a
// private range per test so that parallel packages do not collide.
func startRelay(t *testing.T, cfg Config) *Relay {
	t.Helper()
	if cfg.PortMin == 0 {
		cfg.PortMin, cfg.PortMax = freeRange(t, 200)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}
	r, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return r
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// freeRange finds n consecutive free UDP ports, in this package's zone
// (the b2bua and rtpproxyctl tests use others).
func freeRange(t *testing.T, n int) (int, int) { return testenv.FreeUDPRange(t, n, 20000, 32000) }

// udpPeer is a test endpoint: an RTP socket and its RTCP socket (port+1).
type udpPeer struct {
	rtp, rtcp *net.UDPConn
}

func newPeer(t *testing.T) *udpPeer {
	t.Helper()
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			c.Close()
			continue
		}
		c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		if err != nil {
			c.Close()
			continue
		}
		p := &udpPeer{rtp: c, rtcp: c2}
		t.Cleanup(func() { c.Close(); c2.Close() })
		return p
	}
	t.Fatal("no even port pair for a test peer")
	return nil
}

func (p *udpPeer) port() int { return p.rtp.LocalAddr().(*net.UDPAddr).Port }

func rtpPacket(ssrc uint32, seq uint16, ts uint32, payload int) []byte {
	b := make([]byte, 12+payload)
	b[0] = 0x80
	b[1] = 0 // PCMU
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

func sendTo(t *testing.T, c *net.UDPConn, port int, b []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// recvFrom waits for one datagram and returns it with its source port.
func recvFrom(t *testing.T, c *net.UDPConn) ([]byte, int) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("receive on %v: %v", c.LocalAddr(), err)
	}
	return buf[:n], int(src.Port())
}

// expectNothing checks that no datagram arrives within a short while.
func expectNothing(t *testing.T, c *net.UDPConn) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected datagram of %d bytes on %v", n, c.LocalAddr())
	}
}

// udpClient is a control client with cookies.
type udpClient struct {
	t *testing.T
	c *net.UDPConn
}

func dialUDP(t *testing.T, addr string) *udpClient {
	t.Helper()
	c, err := net.Dial("udp4", strings.TrimPrefix(addr, "udp:"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{t: t, c: c.(*net.UDPConn)}
}

func (u *udpClient) do(cmd string) string {
	u.t.Helper()
	if _, err := u.c.Write([]byte(cmd)); err != nil {
		u.t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = u.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := u.c.Read(buf)
	if err != nil {
		u.t.Fatalf("%q: %v", cmd, err)
	}
	return string(buf[:n])
}

// matcher compares replies with transcript patterns: {NAME} is a number
// captured at first use and compared after, <n> any integer, <f> a %f float.
type matcher struct {
	t    *testing.T
	vars map[string]string
}

var placeholder = regexp.MustCompile(`\{[A-Za-z0-9+]+\}|<n>|<f>`)

func (m *matcher) expand(s string) string {
	return placeholder.ReplaceAllStringFunc(s, func(p string) string {
		name := strings.Trim(p, "{}")
		if base, off, ok := strings.Cut(name, "+"); ok {
			n, _ := strconv.Atoi(m.vars[base])
			k, _ := strconv.Atoi(off)
			return strconv.Itoa(n + k)
		}
		v, ok := m.vars[name]
		if !ok {
			m.t.Fatalf("template %q uses unset %s", s, p)
		}
		return v
	})
}

func (m *matcher) match(want, got string) {
	m.t.Helper()
	var names []string
	re := "^"
	last := 0
	for _, loc := range placeholder.FindAllStringIndex(want, -1) {
		re += regexp.QuoteMeta(want[last:loc[0]])
		p := want[loc[0]:loc[1]]
		switch {
		case p == "<n>":
			re += `\d+`
		case p == "<f>":
			re += `\d+\.\d{6}`
		default:
			name := strings.Trim(p, "{}")
			if v, ok := m.vars[name]; ok {
				re += regexp.QuoteMeta(v)
			} else {
				re += `(\d+)`
				names = append(names, name)
			}
		}
		last = loc[1]
	}
	re += regexp.QuoteMeta(want[last:]) + "$"
	sub := regexp.MustCompile(re).FindStringSubmatch(got)
	if sub == nil {
		m.t.Fatalf("reply mismatch\nwant %q\n got %q", want, got)
	}
	for i, n := range names {
		m.vars[n] = sub[i+1]
	}
}

func (m *matcher) set(name string, v int) { m.vars[name] = fmt.Sprint(v) }
