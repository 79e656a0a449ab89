package b2bua

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"
)

// BenchmarkRegister measures REGISTERs through the registration cache,
// sequentially from one client over UDP: "relayed" each a new contact,
// sent to the registrar (a raw UDP echo) and cached; "cached" refreshes of
// one contact, answered by the cache without going upstream.
func BenchmarkRegister(b *testing.B) {
	reg, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	go rawRegistrar(reg)
	sw := startSwitch(b, fmt.Sprintf("registration: {mode: cache, upstream: %q, max_ua_expires: 60}\n",
		reg.LocalAddr().String()))
	client, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	swAddr := sw.addr()
	to, _ := net.ResolveUDPAddr("udp4", swAddr)
	me := client.LocalAddr().String()
	buf := make([]byte, 65535)
	send := func(user, callID string, seq int) {
		client.WriteTo([]byte(benchRegister(swAddr, me, user, callID, seq)), to)
		if res := awaitFinal(b, client, buf); !bytes.HasPrefix(res, []byte("SIP/2.0 200")) {
			b.Fatalf("REGISTER answered %s", res[:bytes.IndexByte(res, '\r')])
		}
	}
	run := 0
	b.Run("relayed", func(b *testing.B) {
		run++ // b.Run calls this more than once: each call registers new contacts
		relayed := sw.stats.RegistersRelayed.Load()
		b.ReportAllocs()
		cpu0 := processCPU(b)
		for i := range b.N {
			user := "r" + strconv.Itoa(run) + "-" + strconv.Itoa(i)
			send(user, user, 1)
		}
		if n := sw.stats.RegistersRelayed.Load() - relayed; n != uint64(b.N) {
			b.Fatalf("%d of %d new contacts went upstream", n, b.N)
		}
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	b.Run("cached", func(b *testing.B) {
		run++
		user := "c" + strconv.Itoa(run)
		send(user, user, 1)
		relayed := sw.stats.RegistersRelayed.Load()
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU(b)
		for i := range b.N {
			send(user, user, i+2)
		}
		b.StopTimer()
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		if n := sw.stats.RegistersRelayed.Load(); n != relayed {
			b.Fatalf("%d refreshes went upstream", n-relayed)
		}
	})
}

func benchRegister(sw, me, user, callID string, seq int) string {
	return "REGISTER sip:" + sw + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-" + callID + "-" + strconv.Itoa(seq) + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:" + user + "@127.0.0.1>;tag=" + callID + "\r\n" +
		"To: <sip:" + user + "@127.0.0.1>\r\nCall-ID: " + callID + "\r\nCSeq: " + strconv.Itoa(seq) + " REGISTER\r\n" +
		"Contact: <sip:" + user + "@" + me + ">\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
}

// rawRegistrar answers every REGISTER 200, echoing its Contact, by copying
// the request's headers.
func rawRegistrar(c net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		msg := buf[:n]
		var res bytes.Buffer
		res.WriteString("SIP/2.0 200 OK\r\n")
		for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq", "Contact"} {
			res.WriteString(name + ": " + header(msg, name) + "\r\n")
		}
		res.WriteString("Content-Length: 0\r\n\r\n")
		c.WriteTo(res.Bytes(), from)
	}
}
