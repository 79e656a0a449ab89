package b2bua

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestGatewayRejectionAckedOnEachRetransmission: a gateway whose ACK to
// its 486 is lost sends the 486 again, and each copy must be ACKed again
// (RFC 3261 17.1.1.2: the client INVITE transaction stays Completed for
// Timer D to do so), with the INVITE's branch and the 486's To tag — also
// after the switch has moved on and told the caller.
func TestGatewayRejectionAckedOnEachRetransmission(t *testing.T) {
	t.Parallel()
	gw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	acks := make(chan string, 16) // each ACK's Via and To
	go func() {
		buf := make([]byte, 65535)
		var busy []byte
		for {
			n, from, err := gw.ReadFrom(buf)
			if err != nil {
				return
			}
			req := buf[:n]
			switch method, _, _ := strings.Cut(string(req), " "); method {
			case "INVITE":
				busy = []byte("SIP/2.0 486 Busy Here\r\nVia: " + header(req, "Via") + "\r\nFrom: " + header(req, "From") +
					"\r\nTo: " + header(req, "To") + ";tag=gw486\r\nCall-ID: " + header(req, "Call-ID") +
					"\r\nCSeq: " + header(req, "CSeq") + "\r\nContent-Length: 0\r\n\r\n")
				acks <- "INVITE " + header(req, "Via")
				gw.WriteTo(busy, from)
			case "ACK":
				acks <- header(req, "Via") + " " + header(req, "To")
				if len(acks) < 3 { // the first two ACKs "lost": the 486 again
					time.Sleep(100 * time.Millisecond)
					gw.WriteTo(busy, from)
				}
			}
		}
	}()
	sw := startSwitch(t, fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways: [{address: %q}]\n", gw.LocalAddr().String()))
	rc := newRawCaller(t, sw)
	rc.send(t, []byte(benchInvite(sw.addr(), rc.local, "rejected-retransmitted")))
	rc.awaitPrefix(t, "SIP/2.0 486 ")

	invite := <-acks
	branch := invite[strings.Index(invite, "branch="):]
	branch, _, _ = strings.Cut(branch, ";")
	for i := range 3 {
		select {
		case ack := <-acks:
			if !strings.Contains(ack, branch) || !strings.Contains(ack, "tag=gw486") {
				t.Fatalf("ACK %d does not match the INVITE's %s and the 486's To tag: %s", i+1, branch, ack)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d ACKs for the 486 and its two retransmissions, want 3", i)
		}
	}
	if n := sw.ClientTransactions(); n != 1 {
		t.Fatalf("%d client transactions held, want the rejected INVITE's until Timer D", n)
	}
}
