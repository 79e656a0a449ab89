package b2bua

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRegCacheUpstreamInterface: phones register on the private interface
// and the registrar sits on the public one. With
// registration.upstream_interface the REGISTER relayed upstream leaves
// from the public interface's socket, with its Via and the alias Contact
// on that interface, so that the registrar's answer and its calls to the
// alias come back where they can be received; the phone's answer still
// comes from the private interface it registered on.
func TestRegCacheUpstreamInterface(t *testing.T) {
	registrar, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer registrar.Close()
	intern, extern := testenv.FreePort(t), testenv.FreePort(t)
	ts := startSwitch(t, fmt.Sprintf(`  interfaces:
    - {name: intern, listen: ["udp:127.0.0.2:%d"]}
    - {name: extern, listen: ["udp:127.0.0.3:%d"]}
registration:
  mode: cache
  upstream: %s
  upstream_interface: extern
  min_reg_expires: 3600
  max_ua_expires: 60
`, intern, extern, registrar.LocalAddr()))

	phone, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	me := phone.LocalAddr().String()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: intern}
	register := "REGISTER sip:127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-upif-1;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:alice@127.0.0.1>\r\n" +
		"Call-ID: upif-1@" + me + "\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@" + me + ">;expires=3600\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := phone.WriteTo([]byte(register), to); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 65535)
	registrar.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := registrar.ReadFrom(buf)
	if err != nil {
		t.Fatal("no REGISTER upstream:", err)
	}
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	up, ok := msg.(*sip.Request)
	if !ok || up.Method != sip.REGISTER {
		t.Fatalf("registrar got %q", buf[:min(n, 40)])
	}
	externAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), uint16(extern))
	if from.String() != externAddr.String() {
		t.Errorf("REGISTER upstream came from %v, want the upstream interface %v", from, externAddr)
	}
	if v := up.Via(); v == nil || v.Host != "127.0.0.3" || v.Port != extern {
		t.Errorf("upstream Via %v, want 127.0.0.3:%d", v, extern)
	}
	c := up.Contact()
	if c == nil || c.Address.Host != "127.0.0.3" || c.Address.Port != extern {
		t.Fatalf("upstream Contact %v, want an alias on 127.0.0.3:%d", c, extern)
	}

	ok200 := sip.NewResponseFromRequest(up, 200, "OK", nil)
	ok200.AppendHeader(sip.NewHeader("Contact", "<"+c.Address.String()+">;expires=3600"))
	if _, err := registrar.WriteTo([]byte(ok200.String()), from); err != nil {
		t.Fatal(err)
	}
	phone.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := phone.ReadFrom(buf)
	if err != nil {
		t.Fatal("no answer to the phone:", err)
	}
	if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("phone got %q", buf[:min(n, 40)])
	}
	if want := fmt.Sprintf("127.0.0.2:%d", intern); src.String() != want {
		t.Errorf("phone's 200 came from %v, want its own interface %s", src, want)
	}
	if bs := ts.regs.Bindings("alice@127.0.0.1"); len(bs) != 1 {
		t.Errorf("cache holds %+v, want alice's binding", bs)
	}
}
