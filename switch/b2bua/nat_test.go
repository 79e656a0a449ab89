package b2bua

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// natCaller is a caller behind NAT: it writes a private address and a
// port it does not listen on in Via and Contact, and sends from another.
type natCaller struct {
	t    *testing.T
	conn net.PacketConn
	sw   string
}

func (n *natCaller) port() int { return n.conn.LocalAddr().(*net.UDPAddr).Port }

func (n *natCaller) send(msg string) {
	n.t.Helper()
	addr, _ := net.ResolveUDPAddr("udp", n.sw)
	if _, err := n.conn.WriteTo([]byte(msg), addr); err != nil {
		n.t.Fatal(err)
	}
}

// next returns the next message that reaches the caller's real port.
func (n *natCaller) next(d time.Duration) sip.Message {
	n.t.Helper()
	buf := make([]byte, 65535)
	n.conn.SetReadDeadline(time.Now().Add(d))
	for {
		k, _, err := n.conn.ReadFrom(buf)
		if err != nil {
			n.t.Fatalf("nothing reached the caller's source port: %v", err)
		}
		if m, err := sip.ParseMessage(buf[:k]); err == nil {
			return m
		}
	}
}

// request is a request of the caller's with its private Via and Contact.
func (n *natCaller) request(method, cseq, toTag, branch, body string) string {
	to := ""
	if toTag != "" {
		to = ";tag=" + toTag
	}
	ctype := ""
	if body != "" {
		ctype = "Content-Type: application/sdp\r\n"
	}
	return fmt.Sprintf("%s sip:100@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 10.0.0.1:9;branch=z9hG4bK%s\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:caller@10.0.0.1>;tag=natcaller\r\nTo: <sip:100@127.0.0.1>%s\r\n"+
		"Call-ID: nat-%d\r\nCSeq: %s %s\r\nContact: <sip:caller@10.0.0.1:9>\r\n%sContent-Length: %d\r\n\r\n%s",
		method, n.sw, branch, to, n.port(), cseq, method, ctype, len(body), body)
}

// TestNATCaller: a caller whose Via and Contact name 10.0.0.1:9 while it
// sends from 127.0.0.1:PORT completes a call with nat_handling on: the
// responses to its INVITE and to its OPTIONS within the dialog reach its
// source port with received and rport, and the gateway's BYE reaches it
// there, addressed to its public flow.
func TestNATCaller(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 1)
	gw.answer(0, sessions)
	sw := startSwitch(t, routeTo(gw)+"profiles:\n  - {name: nat, nat_handling: true}\nprofile_select:\n  selectors: [nat]\n")
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &natCaller{t: t, conn: conn, sw: sw.addr()}
	port := strconv.Itoa(c.port())

	c.send(c.request("INVITE", "1", "", "inv", sdpOffer))
	var ok *sip.Response
	for ok == nil {
		if res, isRes := c.next(5 * time.Second).(*sip.Response); isRes && res.StatusCode == 200 {
			ok = res
		}
	}
	if r, _ := ok.Via().Params.Get("rport"); r != port {
		t.Errorf("200's Via = %v, want rport=%s", ok.Via(), port)
	}
	if r, _ := ok.Via().Params.Get("received"); r != "127.0.0.1" {
		t.Errorf("200's Via = %v, want received=127.0.0.1", ok.Via())
	}
	toTag, _ := ok.To().Params.Get("tag")
	c.send(c.request("ACK", "1", toTag, "ack", ""))
	gs := <-sessions

	c.send(c.request("OPTIONS", "2", toTag, "opt", ""))
	if res, isRes := c.next(5 * time.Second).(*sip.Response); !isRes || res.StatusCode != 200 {
		t.Fatalf("OPTIONS answered %v", res)
	}

	if err := gs.Bye(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	var bye *sip.Request
	for bye == nil {
		if req, isReq := c.next(5 * time.Second).(*sip.Request); isReq && req.Method == sip.BYE {
			bye = req
		}
	}
	if bye.Recipient.Host != "127.0.0.1" || bye.Recipient.Port != c.port() {
		t.Errorf("BYE to %v, want the caller's flow", bye.Recipient.String())
	}
	res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
	c.send(res.String())
	if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCallee {
		t.Errorf("record = %+v", r)
	}
}
