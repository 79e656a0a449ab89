package b2bua

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCall measures one whole call through the switch — INVITE, 100,
// 180, 200, ACK, BYE, 200 on both legs, the record written — between a raw
// UDP caller and a raw UDP gateway in the same process. allocs/op are the
// allocations of the whole call: sipgo's parsing and transactions, the
// switch, and the two test endpoints' own few (a handful of strings).
// cpu-µs/op is the process's CPU time (user + system, both endpoints
// included) per call: the wall time per call of this sequential loop is
// mostly waiting, while the CPU per call is what bounds the calls per second
// of a loaded switch.
func BenchmarkCall(b *testing.B) {
	gw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	go rawGateway(gw)
	sw := startSwitch(b, fmt.Sprintf("routes:\n  - prefix: \"\"\n    gateways: [{address: %q}]\n", gw.LocalAddr().String()))
	caller, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer caller.Close()
	swAddr := sw.addr()
	to, _ := net.ResolveUDPAddr("udp4", swAddr)
	me := caller.LocalAddr().String()
	buf := make([]byte, 65535)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := range b.N {
		callID := "bench-" + strconv.Itoa(i)
		caller.WriteTo([]byte(benchInvite(swAddr, me, callID)), to)
		res := awaitFinal(b, caller, buf)
		toHdr := header(res, "To")
		caller.WriteTo([]byte(benchInDialog("ACK", swAddr, me, callID, toHdr, 1)), to)
		caller.WriteTo([]byte(benchInDialog("BYE", swAddr, me, callID, toHdr, 2)), to)
		awaitFinal(b, caller, buf)
		<-sw.records
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the CPU time the process has used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func awaitFinal(b *testing.B, c net.PacketConn, buf []byte) []byte {
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			b.Fatal("no final response:", err)
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 1")) {
			return buf[:n]
		}
	}
}

func header(msg []byte, name string) string {
	i := bytes.Index(msg, []byte("\r\n"+name+":"))
	if i < 0 {
		return ""
	}
	rest := msg[i+len(name)+3:]
	j := bytes.Index(rest, []byte("\r\n"))
	return string(bytes.TrimSpace(rest[:j]))
}

func benchInvite(sw, me, callID string) string {
	return "INVITE sip:15551230002@" + sw + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-" + callID + "-1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=" + callID + "\r\n" +
		"To: <sip:15551230002@" + sw + ">\r\nCall-ID: " + callID + "\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:caller@" + me + ">\r\nContent-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(sdpOffer)) + "\r\n\r\n" + sdpOffer
}

func benchInDialog(method, sw, me, callID, to string, seq int) string {
	return method + " sip:" + sw + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-" + callID + "-" + method + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=" + callID + "\r\n" +
		"To: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + strconv.Itoa(seq) + " " + method + "\r\n" +
		"Content-Length: 0\r\n\r\n"
}

// rawGateway answers every INVITE 180 then 200 with SDP, and every BYE 200,
// building responses by copying the request's headers.
func rawGateway(c net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		req := buf[:n]
		var method string
		switch {
		case bytes.HasPrefix(req, []byte("INVITE ")):
			method = "INVITE"
		case bytes.HasPrefix(req, []byte("BYE ")):
			method = "BYE"
		default:
			continue
		}
		base := "Via: " + header(req, "Via") + "\r\nFrom: " + header(req, "From") +
			"\r\nTo: " + header(req, "To") + ";tag=gw\r\nCall-ID: " + header(req, "Call-ID") +
			"\r\nCSeq: " + header(req, "CSeq") + "\r\n"
		if method == "INVITE" {
			c.WriteTo([]byte("SIP/2.0 180 Ringing\r\n"+base+"Content-Length: 0\r\n\r\n"), from)
			c.WriteTo([]byte("SIP/2.0 200 OK\r\n"+base+"Contact: <sip:gw@"+c.LocalAddr().String()+">\r\n"+
				"Content-Type: application/sdp\r\nContent-Length: "+strconv.Itoa(len(sdpAnswer))+"\r\n\r\n"+sdpAnswer), from)
			continue
		}
		c.WriteTo([]byte("SIP/2.0 200 OK\r\n"+base+"Content-Length: 0\r\n\r\n"), from)
	}
}
