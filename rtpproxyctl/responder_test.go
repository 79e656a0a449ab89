package rtpproxyctl

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// emulator answers the rtpproxy control protocol the way rtpproxy 3.2
// does in the spec's section 4 (find_stream rules, ";N" media numbers,
// prefix delete, "0" for an L miss, E50, Q && D), without relaying media.
type emulator struct {
	mu       sync.Mutex
	sessions []*emuSession
	nextPort int
	caps     map[string]bool
	override func(cmd string) (string, bool)
}

type emuSession struct {
	callID, ftag string
	ports        [2]int // [0] faces the answerer (U reply), [1] the offerer (L reply)
	notifyTo     string
	notifyTag    string
}

func newEmulator() *emulator {
	caps := map[string]bool{}
	for _, d := range []string{"20040107", "20050322", "20060704", "20071116", "20071218", "20080403", "20081102", "20090810", "20150420", "20191015", "20230314"} {
		caps[d] = true
	}
	return &emulator{nextPort: 30000, caps: caps}
}

func (e *emulator) handle(cmd string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.override != nil {
		if r, ok := e.override(cmd); ok {
			return r
		}
	}
	main, sub, hasSub := strings.Cut(cmd, " && ")
	f := strings.Fields(main)
	if len(f) == 0 {
		return "E5"
	}
	switch strings.ToUpper(f[0][:1]) {
	case "V":
		if f[0] == "V" && len(f) == 1 {
			return "20040107"
		}
		if len(f) != 2 {
			return "E1"
		}
		if e.caps[f[1]] {
			return "1"
		}
		return "0"
	case "U":
		if len(f) < 5 || len(f) > 8 {
			return "E1"
		}
		ttag := ""
		if len(f) == 6 || len(f) == 8 {
			ttag = f[5]
		}
		s, dir := e.find(f[1], f[4], ttag)
		if s == nil {
			s = &emuSession{callID: f[1], ftag: f[4]}
			e.sessions = append(e.sessions, s)
		}
		if len(f) >= 7 {
			if !e.caps["20081224"] {
				return "E75"
			}
			tag, err := url.PathUnescape(f[len(f)-1])
			if err != nil {
				return "E10"
			}
			s.notifyTo, s.notifyTag = f[len(f)-2], tag
		}
		return e.port(s, dir)
	case "L":
		if len(f) < 5 || len(f) > 6 {
			return "E1"
		}
		ttag := ""
		if len(f) == 6 {
			ttag = f[5]
		}
		s, dir := e.find(f[1], f[4], ttag)
		if s == nil {
			return "0"
		}
		return e.port(s, 1-dir)
	case "Q":
		if len(f) < 3 {
			return "E1"
		}
		ttag := ""
		if len(f) >= 4 {
			ttag = f[3]
		}
		s, dir := e.find(f[1], f[2], ttag)
		if s == nil {
			return "E50"
		}
		if hasSub && sub == "D" {
			e.remove(s)
		}
		// The creator sent 7 packets, 2 of them lost, with a mean jitter
		// of 80 timestamp units; the other side 5, none lost, jitter 16.
		if len(f) == 4 {
			if dir == 0 {
				return "60 7 5 12 0"
			}
			return "60 5 7 12 0"
		}
		return e.named(f[0], f[4:], dir)
	case "D":
		if len(f) < 3 || len(f) > 4 {
			return "E1"
		}
		n := 0
		for _, s := range append([]*emuSession(nil), e.sessions...) {
			base, _, _ := strings.Cut(s.ftag, ";")
			if s.callID == f[1] && (s.ftag == f[2] || base == f[2] || (len(f) == 4 && (s.ftag == f[3] || base == f[3]))) {
				e.remove(s)
				n++
			}
		}
		if n == 0 {
			return "E50"
		}
		return "0"
	}
	return "E0"
}

// named answers a Q with counter names as rtpproxy does: the rtpa_*
// counters describe the stream of the party named first only, and a name
// the emulated version does not know is E62.
func (e *emulator) named(cmd string, names []string, dir int) string {
	sent := [2]string{"7", "5"}
	lost := [2]string{"2", "0"}
	javg := [2]string{"80.000000", "16.000000"}
	var out []string
	for _, n := range names {
		var v string
		switch {
		case n == "ttl":
			v = "60"
		case n == "npkts_ina":
			v = sent[dir]
		case n == "npkts_ino":
			v = sent[1-dir]
		case n == "nrelayed":
			v = "12"
		case n == "ndropped":
			v = "0"
		case n == "rtpa_nlost" && e.caps["20230205"]:
			v = lost[dir]
		case n == "rtpa_javg" && e.caps["20230424"]:
			v = javg[dir]
		default:
			return "E62"
		}
		if strings.ContainsAny(cmd[1:], "vV") {
			v = n + "=" + v
		}
		out = append(out, v)
	}
	return strings.Join(out, " ")
}

// find applies rtpproxy's find_stream: direction 0 when the stored from-tag
// is the command's from-tag, 1 when it is the command's to-tag.
func (e *emulator) find(callID, ftag, ttag string) (*emuSession, int) {
	for _, s := range e.sessions {
		if s.callID != callID {
			continue
		}
		if s.ftag == ftag {
			return s, 0
		}
		if ttag != "" && s.ftag == ttag {
			return s, 1
		}
	}
	return nil, 0
}

func (e *emulator) port(s *emuSession, leg int) string {
	if s.ports[leg] == 0 {
		s.ports[leg] = e.nextPort
		e.nextPort += 2
		if e.nextPort > 65000 { // long benchmarks: reuse the range
			e.nextPort = 30000
		}
	}
	return fmt.Sprintf("%d 127.0.0.1", s.ports[leg])
}

func (e *emulator) remove(s *emuSession) {
	for i, x := range e.sessions {
		if x == s {
			e.sessions = append(e.sessions[:i], e.sessions[i+1:]...)
			return
		}
	}
}

// expire times out every session of callID and notifies like rtpproxy:
// connect to the target, write the tag and "\n".
func (e *emulator) expire(t *testing.T, callID string) {
	t.Helper()
	e.mu.Lock()
	var notes [][2]string
	for _, s := range append([]*emuSession(nil), e.sessions...) {
		if s.callID == callID {
			e.remove(s)
			if s.notifyTo != "" {
				notes = append(notes, [2]string{s.notifyTo, s.notifyTag})
			}
		}
	}
	e.mu.Unlock()
	for _, n := range notes {
		scheme, addr, _ := strings.Cut(n[0], ":")
		c, err := net.Dial(scheme, addr)
		if err != nil {
			t.Fatalf("notify %s: %v", n[0], err)
		}
		if _, err := c.Write([]byte(n[1] + "\n")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// udpResponder serves an emulator over UDP with cookies and a reply cache
// keyed by cookie, and can drop datagrams or go silent.
type udpResponder struct {
	emu     *emulator
	conn    net.PacketConn
	drop    atomic.Int32 // datagrams still to drop
	silent  atomic.Bool
	mu      sync.Mutex
	got     []string // every datagram received
	cache   map[string]string
	noCache atomic.Bool
	arrived chan string
}

func startUDP(t testing.TB, emu *emulator) *udpResponder {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &udpResponder{emu: emu, conn: conn, cache: map[string]string{}, arrived: make(chan string, 1024)}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			r.serve(string(buf[:n]), from)
		}
	}()
	return r
}

func (r *udpResponder) serve(dgram string, from net.Addr) {
	r.mu.Lock()
	if !r.noCache.Load() {
		r.got = append(r.got, dgram)
	}
	r.mu.Unlock()
	select {
	case r.arrived <- dgram:
	default:
	}
	if r.silent.Load() || r.drop.Add(-1) >= 0 {
		return
	}
	cookie, cmd, ok := strings.Cut(strings.TrimRight(dgram, "\n"), " ")
	if !ok {
		r.conn.WriteTo([]byte("nocookie E5\n"), from)
		return
	}
	r.mu.Lock()
	reply, dup := r.cache[cookie]
	if !dup {
		reply = r.emu.handle(cmd)
		if !r.noCache.Load() {
			r.cache[cookie] = reply
		}
	}
	r.mu.Unlock()
	r.conn.WriteTo([]byte(cookie+" "+reply+"\n"), from)
}

func (r *udpResponder) address() string { return "udp:" + r.conn.LocalAddr().String() }

func (r *udpResponder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// commands returns the received commands without cookies, probes or
// retransmissions.
func (r *udpResponder) commands() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range r.received() {
		cookie, cmd, _ := strings.Cut(strings.TrimRight(d, "\n"), " ")
		if !seen[cookie] && cmd != "V" && !strings.HasPrefix(cmd, "VF ") {
			out = append(out, cmd)
		}
		seen[cookie] = true
	}
	return out
}

// startUnix serves an emulator on a unix stream socket, either as
// rtpproxy's unix: (one command, one reply, close) or cunix: (persistent).
func startUnix(t *testing.T, emu *emulator, persistent bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rtpp.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(emu.handle(strings.TrimRight(line, "\n")) + "\n")); err != nil || !persistent {
						return
					}
				}
			})
		}
	})
	if persistent {
		return "cunix:" + path
	}
	return "unix:" + path
}

// script makes the emulator answer some commands with canned replies
// (malformed ones, errors) instead of emulating them.
func (e *emulator) script(f func(cmd string) (string, bool)) {
	e.mu.Lock()
	e.override = f
	e.mu.Unlock()
}

func (e *emulator) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sessions)
}

// startUDPBench serves a fresh emulator for a benchmark and returns its
// address; the reply cache is not kept, so memory stays flat.
func startUDPBench(b *testing.B) string {
	r := startUDP(b, newEmulator())
	r.noCache.Store(true)
	return r.address()
}
