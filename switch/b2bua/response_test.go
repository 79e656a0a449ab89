package b2bua

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestNewResponseLikeSipgo: for requests that reached a real sipgo server
// over UDP, newResponse writes what sipgo's NewResponseFromRequest writes,
// header for header, and sends it to the same place — with and without
// rport, a Via port that is not the source's, no port at all, an rport
// with a value, a received parameter, several Vias, Record-Route (copied
// only where RFC 3261 20 says), Timestamp (a 100's only). sipgo keeps the
// destination it derives on the request, where only its own builder reads
// it: this is what tells that newResponse still derives the same one.
func TestNewResponseLikeSipgo(t *testing.T) {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var handled []string // "" for a request whose responses all matched
	codes := []int{100, 180, 183, 200, 302, 486}
	handler := func(req *sip.Request, tx sip.ServerTransaction) {
		var diffs []string
		for _, code := range codes {
			ours, theirs := newResponse(req, code, "Reason"), sip.NewResponseFromRequest(req, code, "Reason", nil)
			if o, s := ours.String(), theirs.String(); o != s {
				diffs = append(diffs, fmt.Sprintf("%s %d:\n ours:\n%s\n sipgo's:\n%s", req.Method, code, o, s))
			}
			if o, s := ours.Destination(), theirs.Destination(); o != s {
				diffs = append(diffs, fmt.Sprintf("%s %d: destination %s, sipgo's %s", req.Method, code, o, s))
			}
			if o, s := ours.Transport(), theirs.Transport(); o != s {
				diffs = append(diffs, fmt.Sprintf("%s %d: transport %s, sipgo's %s", req.Method, code, o, s))
			}
		}
		mu.Lock()
		handled = append(handled, strings.Join(diffs, "\n"))
		mu.Unlock()
	}
	srv.OnInvite(handler)
	srv.OnBye(handler)
	srv.OnRegister(handler)
	srv.OnOptions(handler)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(conn)
	t.Cleanup(func() { conn.Close() })

	client, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	me := client.LocalAddr().(*net.UDPAddr)
	port := strconv.Itoa(me.Port)
	other := strconv.Itoa(me.Port + 1)
	cases := []struct{ name, method, vias, extra string }{
		{"rport", "INVITE", "Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bK-1;rport\r\n", ""},
		{"via port not the source's", "INVITE", "Via: SIP/2.0/UDP 127.0.0.1:" + other + ";branch=z9hG4bK-2\r\n", ""},
		{"no port", "BYE", "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-3\r\n", ""},
		{"rport with a value", "OPTIONS", "Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK-4;rport=" + other + "\r\n", ""},
		{"received", "INVITE", "Via: SIP/2.0/UDP host.example:" + port + ";received=192.0.2.9;branch=z9hG4bK-5;rport\r\n", ""},
		{"several Vias and Record-Route", "INVITE",
			"Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bK-6;rport\r\nVia: SIP/2.0/UDP 192.0.2.8:5060;branch=z9hG4bK-p;received=192.0.2.18\r\n",
			"Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\nRecord-Route: <sip:p3.example;lr;ftag=x>\r\n"},
		{"Record-Route on a BYE", "BYE", "Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bK-7;rport\r\n", "Record-Route: <sip:p1.example;lr>\r\n"},
		{"REGISTER", "REGISTER", "Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bK-8;rport\r\n", "Record-Route: <sip:p1.example;lr>\r\n"},
		{"Timestamp", "OPTIONS", "Via: SIP/2.0/UDP 127.0.0.1:" + port + ";branch=z9hG4bK-9\r\n", "Timestamp: 54.2 0.3\r\n"},
	}
	to, _ := net.ResolveUDPAddr("udp4", conn.LocalAddr().String())
	for i, tc := range cases {
		msg := tc.method + " sip:b@" + conn.LocalAddr().String() + " SIP/2.0\r\n" + tc.vias +
			"Max-Forwards: 70\r\nFrom: \"A\" <sip:a@127.0.0.1;user=phone>;tag=f" + strconv.Itoa(i) + "\r\n" +
			"To: <sip:b@127.0.0.1>;tag=t" + strconv.Itoa(i) + "\r\nCall-ID: like-sipgo-" + strconv.Itoa(i) + "\r\n" +
			"CSeq: 7 " + tc.method + "\r\nContact: <sip:a@127.0.0.1:" + port + ">\r\n" + tc.extra + "Content-Length: 0\r\n\r\n"
		if _, err := client.WriteTo([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, "sipgo to hand over the request of "+tc.name, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(handled) > i
		})
		mu.Lock()
		if handled[i] != "" {
			t.Errorf("%s: %s", tc.name, handled[i])
		}
		mu.Unlock()
	}
}

// TestNewResponseToTag: a response other than a 100 to a request without
// a To tag gets one of its own (RFC 3261 8.2.6.2), and the request keeps
// none: the copy is the response's.
func TestNewResponseToTag(t *testing.T) {
	m, err := sip.ParseMessage([]byte("OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport\r\nFrom: <sip:a@192.0.2.1>;tag=1\r\n" +
		"To: <sip:b@192.0.2.2>\r\nCall-ID: tag\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetTransport("UDP")
	req.SetSource("192.0.2.1:5060")
	if tag, ok := newResponse(req, 100, "Trying").To().Params.Get("tag"); ok {
		t.Errorf("100 has a To tag %q", tag)
	}
	res := newResponse(req, 200, "OK")
	if tag, _ := res.To().Params.Get("tag"); tag == "" {
		t.Error("200 has no To tag")
	}
	if req.To().Params.Has("tag") {
		t.Error("the request's To got the response's tag")
	}
	if v, _ := res.Via().Params.Get("received"); v != "192.0.2.1" {
		t.Errorf("Via received=%q, want the source's address", v)
	}
	if req.Via().Params.Has("received") {
		t.Error("the request's Via got the response's received")
	}
}
