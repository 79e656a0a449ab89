package relay

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// sipEndpoint is a minimal SIP UDP endpoint for the interop test: it sends
// hand-written requests and responses and reads whole messages. SIPp is not
// used because the test needs the media ports Kamailio wrote into the SDP.
type sipEndpoint struct {
	t *testing.T
	c *net.UDPConn
}

func newSIPEndpoint(t *testing.T, ip string) *sipEndpoint {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipEndpoint{t: t, c: c}
}

func (e *sipEndpoint) addr() string { return e.c.LocalAddr().String() }

func (e *sipEndpoint) send(to *net.UDPAddr, msg string) {
	e.t.Helper()
	if _, err := e.c.WriteToUDP([]byte(strings.ReplaceAll(msg, "\n", "\r\n")), to); err != nil {
		e.t.Fatal(err)
	}
}

// recv returns the next message whose first line matches start, skipping
// provisional responses and retransmissions of other messages.
func (e *sipEndpoint) recv(start string) (string, *net.UDPAddr) {
	e.t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_ = e.c.SetReadDeadline(deadline)
		n, from, err := e.c.ReadFromUDP(buf)
		if err != nil {
			e.t.Fatalf("waiting for %q: %v", start, err)
		}
		msg := string(buf[:n])
		if strings.HasPrefix(msg, start) {
			return msg, from
		}
	}
}

var (
	sdpPort = regexp.MustCompile(`(?m)^m=audio (\d+) `)
	sdpAddr = regexp.MustCompile(`(?m)^c=IN IP[46] (\S+)`)
)

func sdpMedia(t *testing.T, msg string) (string, int) {
	t.Helper()
	p, a := sdpPort.FindStringSubmatch(msg), sdpAddr.FindStringSubmatch(msg)
	if p == nil || a == nil {
		t.Fatalf("no audio media in:\n%s", msg)
	}
	port, _ := strconv.Atoi(p[1])
	return a[1], port
}

// headers copies the Via, From, To, Call-ID and CSeq lines of a request into
// a response.
func headers(req string, toTag string) string {
	var out []string
	for _, l := range strings.Split(req, "\r\n") {
		switch {
		case strings.HasPrefix(l, "Via:"), strings.HasPrefix(l, "From:"), strings.HasPrefix(l, "Call-ID:"), strings.HasPrefix(l, "CSeq:"):
			out = append(out, l)
		case strings.HasPrefix(l, "To:"):
			if toTag != "" && !strings.Contains(l, ";tag=") {
				l += ";tag=" + toTag
			}
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sdp is an audio offer or answer for ip (127.0.0.1 or ::1) and port.
func sdp(ip string, port int) string {
	fam := "IP4"
	if strings.Contains(ip, ":") {
		fam = "IP6"
	}
	return fmt.Sprintf("v=0\no=- 1 1 IN %s %s\ns=-\nc=IN %s %s\nt=0 0\nm=audio %d RTP/AVP 0\na=rtpmap:0 PCMU/8000\n", fam, ip, fam, ip, port)
}

func bodyLen(b string) int { return len(strings.ReplaceAll(b, "\n", "\r\n")) }

// TestKamailioInterop: Kamailio's rtpproxy module drives the relay for a
// call between two endpoints; RTP flows both ways through the ports written
// into the SDP, the relay's counters match what was sent, and BYE deletes
// the session. Over IPv4, and over IPv6 with IPv6 SDP, where the module
// sends U6/L6 and the relay answers with its IPv6 media address.
func TestKamailioInterop(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			kamailioCall(t, ip)
		})
	}
}

func kamailioCall(t *testing.T, ip string) {
	cfg := Config{Control: []string{"udp:127.0.0.1:0"}}
	if ip == "::1" {
		cfg.MediaIP6 = ip
	}
	r := startRelay(t, cfg)
	uac, uas := newSIPEndpoint(t, ip), newSIPEndpoint(t, ip)
	k := testenv.StartKamailioOn(t, ip, r.ControlAddrs()[0], uas.addr())
	proxy, err := net.ResolveUDPAddr("udp", k.Addr)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newPeerOn(t, ip), newPeerOn(t, ip)
	relayAt := func(port int) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port)) }

	offer := sdp(ip, a.port())
	uac.send(proxy, fmt.Sprintf(`INVITE sip:callee@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-inv1;rport
Max-Forwards: 70
From: <sip:caller@%s>;tag=caller1
To: <sip:callee@%s>
Call-ID: kam-interop-1
CSeq: 1 INVITE
Contact: <sip:caller@%s>
Content-Type: application/sdp
Content-Length: %d

%s`, k.Addr, uac.addr(), uac.addr(), k.Addr, uac.addr(), bodyLen(offer), offer))

	inv, from := uas.recv("INVITE ")
	at, pb := sdpMedia(t, inv)
	if at != ip || pb == a.port() {
		t.Fatalf("offer not anchored: c=%s port %d (caller %d)", at, pb, a.port())
	}
	answer := sdp(ip, b.port())
	uas.send(from, fmt.Sprintf("SIP/2.0 200 OK\n%s\nContact: <sip:callee@%s>\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		headers(inv, "callee1"), uas.addr(), bodyLen(answer), answer))
	ok, _ := uac.recv("SIP/2.0 200")
	at, pa := sdpMedia(t, ok)
	if at != ip || pa == b.port() {
		t.Fatalf("answer not anchored: c=%s port %d", at, pa)
	}
	uac.send(proxy, fmt.Sprintf(`ACK sip:callee@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-ack1;rport
Max-Forwards: 70
From: <sip:caller@%s>;tag=caller1
To: <sip:callee@%s>;tag=callee1
Call-ID: kam-interop-1
CSeq: 1 ACK
Content-Length: 0

`, uas.addr(), uac.addr(), uac.addr(), k.Addr))

	const n = 50
	for i := range n {
		if _, err := a.rtp.WriteToUDPAddrPort(rtpPacket(0xA, uint16(i), uint32(160*i), 160), relayAt(pa)); err != nil {
			t.Fatal(err)
		}
		recvFrom(t, b.rtp)
		if _, err := b.rtp.WriteToUDPAddrPort(rtpPacket(0xB, uint16(i), uint32(160*i), 160), relayAt(pb)); err != nil {
			t.Fatal(err)
		}
		recvFrom(t, a.rtp)
	}
	st := r.SessionStats("kam-interop-1", "caller1", "")
	if len(st) != 1 {
		t.Fatalf("sessions for the call: %+v", st)
	}
	if o, w := st[0].FromOfferer, st[0].FromAnswerer; o.Packets != n || o.Relayed != n || o.Lost != 0 ||
		w.Packets != n || w.Relayed != n || o.Bytes != n*172 {
		t.Fatalf("counters: offerer %+v answerer %+v", o, w)
	}

	uac.send(proxy, fmt.Sprintf(`BYE sip:callee@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-bye1;rport
Max-Forwards: 70
From: <sip:caller@%s>;tag=caller1
To: <sip:callee@%s>;tag=callee1
Call-ID: kam-interop-1
CSeq: 2 BYE
Content-Length: 0

`, uas.addr(), uac.addr(), uac.addr(), k.Addr))
	bye, from := uas.recv("BYE ")
	uas.send(from, "SIP/2.0 200 OK\n"+headers(bye, "")+"\nContent-Length: 0\n\n")
	uac.recv("SIP/2.0 200")
	if st := r.Stats(); st.ActiveSessions != 0 || st.SessionsCreated != 1 {
		t.Fatalf("after BYE: %+v", st)
	}
}
