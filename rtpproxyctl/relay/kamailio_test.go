package relay

import (
	"fmt"
	"net"
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

func newSIPEndpoint(t *testing.T) *sipEndpoint {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
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
	sdpAddr = regexp.MustCompile(`(?m)^c=IN IP4 (\S+)`)
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

func sdp(port int) string {
	body := fmt.Sprintf("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP 0\na=rtpmap:0 PCMU/8000\n", port)
	return body
}

func bodyLen(b string) int { return len(strings.ReplaceAll(b, "\n", "\r\n")) }

// TestKamailioInterop: Kamailio's rtpproxy module drives the relay for a
// call between two endpoints; RTP flows both ways through the ports written
// into the SDP, the relay's counters match what was sent, and BYE deletes
// the session.
func TestKamailioInterop(t *testing.T) {
	t.Parallel()
	r := startRelay(t, Config{Control: []string{"udp:127.0.0.1:0"}})
	uac, uas := newSIPEndpoint(t), newSIPEndpoint(t)
	k := testenv.StartKamailio(t, r.ControlAddrs()[0], uas.addr())
	proxy, err := net.ResolveUDPAddr("udp4", k.Addr)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newPeer(t), newPeer(t)

	offer := sdp(a.port())
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
	ip, pb := sdpMedia(t, inv)
	if ip != "127.0.0.1" || pb == a.port() {
		t.Fatalf("offer not anchored: c=%s port %d (caller %d)", ip, pb, a.port())
	}
	answer := sdp(b.port())
	uas.send(from, fmt.Sprintf("SIP/2.0 200 OK\n%s\nContact: <sip:callee@%s>\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		headers(inv, "callee1"), uas.addr(), bodyLen(answer), answer))
	ok, _ := uac.recv("SIP/2.0 200")
	_, pa := sdpMedia(t, ok)
	if pa == b.port() {
		t.Fatalf("answer not anchored: port %d", pa)
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
		sendTo(t, a.rtp, pa, rtpPacket(0xA, uint16(i), uint32(160*i), 160))
		recvFrom(t, b.rtp)
		sendTo(t, b.rtp, pb, rtpPacket(0xB, uint16(i), uint32(160*i), 160))
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
