package relay

import (
	"bufio"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// notifyListener accepts notification connections and delivers each line.
func notifyListener(t *testing.T) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					lines <- l
				}
			}()
		}
	}()
	return "tcp:" + ln.Addr().String(), lines
}

// TestTranscriptStreams replays section 4.2: the stream transports, timeout
// notification, media numbers, re-INVITE, hold and weak flags, with
// rtpproxy's -T 4 -W 3. The excerpt omits the U/L/media that precede k19;
// they are reconstructed from section 3.4.
func TestTranscriptStreams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target, notes := notifyListener(t)
	r := startRelay(t, Config{
		Control: []string{"udp:127.0.0.1:0", "unix:" + filepath.Join(dir, "rtpp.sock"),
			"cunix:" + filepath.Join(dir, "rtppc.sock"), "tcp:127.0.0.1:0"},
		TTL: 4 * time.Second, SetupTTL: 3 * time.Second, Notify: []string{target},
	})
	addrs := r.ControlAddrs()

	// unix: one command per connection.
	u := dialStream(t, "unix", filepath.Join(dir, "rtpp.sock"))
	u.write("V\n")
	if l := u.line(); l != "20040107\n" {
		t.Fatalf("unix V: %q", l)
	}
	if _, err := u.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("unix: connection not closed after one command: %v", err)
	}
	// cunix: persistent.
	cu := dialStream(t, "unix", filepath.Join(dir, "rtppc.sock"))
	for _, x := range [][2]string{{"V\n", "20040107\n"}, {"VF 20081224\n", "1\n"}, {"G nsess_created\n", "0\n"}} {
		cu.write(x[0])
		if l := cu.line(); l != x[1] {
			t.Fatalf("cunix %q: %q, want %q", x[0], l, x[1])
		}
	}
	// tcp: pipelined, and a cookie is not stripped.
	tc := dialStream(t, "tcp4", addrs[3][len("tcp:"):])
	tc.write("V\nVF 20150330\n")
	if a, b := tc.line(), tc.line(); a != "20040107\n" || b != "1\n" {
		t.Fatalf("tcp pipelined: %q %q", a, b)
	}
	tc.write("c1 V\n")
	if l := tc.line(); l != "E1\n" {
		t.Fatalf("tcp cookie: %q", l)
	}

	cl := dialUDP(t, addrs[0])
	m := &matcher{t: t, vars: map[string]string{"T": target}}
	step := func(send, want string) {
		t.Helper()
		m.match(want, cl.do(m.expand(send)))
	}
	step("k2 U tmo-1@test 127.0.0.1 46000 ftA ttA {T} sess%3Atmo-1%20x\n", "k2 <n> 127.0.0.1\n")
	step("k3 L tmo-1@test 127.0.0.1 46002 ftA ttA\n", "k3 <n> 127.0.0.1\n")
	step("k4 U tmo-2@test 127.0.0.1 46100 ftB {T} only-offer\n", "k4 <n> 127.0.0.1\n")
	for _, want := range []string{"only-offer\n", "sess:tmo-1 x\n"} {
		select {
		case got := <-notes:
			if got != want {
				t.Fatalf("notification %q, want %q", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no notification %q", want)
		}
	}
	step("k5 Q tmo-1@test ftA ttA\n", "k5 E50\n")

	// Packets before the session is complete are discarded.
	step("k6 U inc-1@test 127.0.0.1 46200 ftI\n", "k6 {PI} 127.0.0.1\n")
	p := newPeer(t)
	for i := range 3 {
		sendTo(t, p.rtp, atoi(m.vars["PI"]), rtpPacket(7, uint16(i), 0, 20))
	}
	poll := 0
	testenv.Eventually(t, 10*time.Second, "3 discarded packets", func() bool {
		poll++ // each poll needs its own cookie, or the reply cache answers
		cookie := "k7." + itoa(poll)
		return cl.do(cookie+" G npkts_discard npkts_rcvd\n") == cookie+" 3 0\n"
	})

	// Media numbers: D without ;N deletes every media session of the dialog.
	step("k9 U mn-1@test 127.0.0.1 46300 ftM;1\n", "k9 {M1} 127.0.0.1\n")
	step("k10 U mn-1@test 127.0.0.1 46310 ftM;2\n", "k10 {M2} 127.0.0.1\n")
	if m.vars["M1"] == m.vars["M2"] {
		t.Fatal("two media numbers share a port")
	}
	step("k14 D mn-1@test ftM\n", "k14 0\n")
	step("k15 Q mn-1@test ftM;1\n", "k15 E50\n")
	step("k16 Q mn-1@test ftM;2\n", "k16 E50\n")

	// Re-INVITE: the callee moves, the same port comes back, media follows.
	a, b, b2 := newPeer(t), newPeer(t), newPeer(t)
	m.set("A", a.port())
	m.set("B", b.port())
	m.set("B2", b2.port())
	step("k17 U re-1@test 127.0.0.1 {A} ftR\n", "k17 {RB} 127.0.0.1\n")
	step("k18 L re-1@test 127.0.0.1 {B} ftR ttR\n", "k18 {RA} 127.0.0.1\n")
	ra, rb := atoi(m.vars["RA"]), atoi(m.vars["RB"])
	exchange := func(n int, from *udpPeer, seq0 int) {
		t.Helper()
		for i := range n {
			sendTo(t, a.rtp, ra, rtpPacket(10, uint16(seq0+i), uint32(160*(seq0+i)), 160))
			recvFrom(t, from.rtp)
			sendTo(t, from.rtp, rb, rtpPacket(20, uint16(seq0+i), uint32(160*(seq0+i)), 160))
			recvFrom(t, a.rtp)
		}
	}
	exchange(5, b, 0)
	step("k19 L re-1@test 127.0.0.1 {B2} ftR ttR\n", "k19 {RA} 127.0.0.1\n")
	exchange(2, b2, 5)
	step("k20 U re-1@test 0.0.0.0 {A} ftR\n", "k20 {RB} 127.0.0.1\n")
	exchange(2, b2, 7)
	reply := cl.do("k21 Qv re-1@test ftR ttR\n")
	if reply != "k21 ttl=4 npkts_ina=9 npkts_ino=9 nrelayed=18 ndropped=0\n" &&
		reply != "k21 ttl=3 npkts_ina=9 npkts_ino=9 nrelayed=18 ndropped=0\n" {
		t.Fatalf("k21: %q", reply)
	}

	// Weak flags, with the upstream quirk of section 2.7.
	step("k23 Uw wk-1@test 127.0.0.1 46500 ftW\n", "k23 <n> 127.0.0.1\n")
	step("k24 Dw wk-1@test ftW\n", "k24 0\n")
	if reply := cl.do("k25 Q wk-1@test ftW\n"); reply != "k25 3 0 0 0 0\n" && reply != "k25 2 0 0 0 0\n" {
		t.Fatalf("k25: %q", reply)
	}
	step("k26 Dw wk-1@test ftX ftW\n", "k26 0\n")
	step("k27 Q wk-1@test ftW\n", "k27 E50\n")
}
