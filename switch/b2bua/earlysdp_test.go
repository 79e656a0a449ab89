package b2bua

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/cdr"
)

// segmentGateway is a gateway on a raw TCP socket that answers each INVITE
// with a 183 carrying its SDP and a 200 without one, written in one TCP
// segment: sipgo reads both from one buffer and hands each to a goroutine
// of its own, so the switch may see the 200 first (sipgo issue #306). It
// answers BYE with 200 and reports each request's method on got.
type segmentGateway struct {
	ln  net.Listener
	got chan string
}

const earlySDP = "v=0\r\no=gw 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 52000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"

func startSegmentGateway(t *testing.T) *segmentGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &segmentGateway{ln: ln, got: make(chan string, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go g.serve(conn)
		}
	}()
	return g
}

func (g *segmentGateway) addr() string { return g.ln.Addr().String() }

func (g *segmentGateway) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		req, err := readRequest(r)
		if err != nil {
			return
		}
		g.got <- string(req.Method)
		var out string
		switch req.Method {
		case sip.INVITE:
			contact := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: g.ln.Addr().(*net.TCPAddr).Port,
				UriParams: sip.NewParams()}}
			contact.Address.UriParams.Add("transport", "tcp")
			req.To().Params.Add("tag", "gwtag")
			early := sip.NewResponseFromRequest(req, 183, "Session Progress", []byte(earlySDP))
			early.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			early.AppendHeader(contact)
			ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
			ok.AppendHeader(contact)
			out = early.String() + ok.String()
		case sip.BYE:
			out = sip.NewResponseFromRequest(req, 200, "OK", nil).String()
		default:
			continue
		}
		if _, err := io.WriteString(conn, out); err != nil {
			return
		}
	}
}

// readRequest reads one request from a stream: its header, then
// Content-Length bytes of body.
func readRequest(r *bufio.Reader) (*sip.Request, error) {
	tp := textproto.NewReader(r)
	var head strings.Builder
	length := 0
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return nil, err
		}
		if line == "" {
			if head.Len() == 0 {
				continue // a keepalive CRLF
			}
			break
		}
		head.WriteString(line + "\r\n")
		if name, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(name, "Content-Length") || name == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	msg, err := sip.ParseMessage(append([]byte(head.String()+"\r\n"), body...))
	if err != nil {
		return nil, err
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, fmt.Errorf("not a request")
	}
	return req, nil
}

// TestEarlySDPSurvivesOneSegment: whichever of the 183 and the 200 the
// switch sees first, the caller's 200 carries the gateway's early answer,
// the call connects, and the caller's BYE reaches the gateway and ends it
// normally. Several calls, since the order is up to sipgo's goroutines.
func TestEarlySDPSurvivesOneSegment(t *testing.T) {
	t.Parallel()
	gw := startSegmentGateway(t)
	sw := startSwitch(t, fmt.Sprintf("routes: [{prefix: \"\", gateways: [{address: %q, transport: tcp}]}]\n", gw.addr()))
	caller := newPeer(t, "caller")
	for i := range 10 {
		ctx := within(t, 20*time.Second)
		ds, err := caller.dcc.Invite(ctx, sw.uri("100"), []byte(sdpOffer), sdpType)
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := string(ds.InviteResponse.Body()); got != earlySDP {
			t.Errorf("call %d: the caller's 200 carries %q, want the gateway's early answer", i, got)
		}
		if err := ds.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ds.Bye(ctx); err != nil {
			t.Fatalf("call %d: BYE: %v", i, err)
		}
		for m := range gw.got {
			if m == "BYE" {
				break
			}
		}
		if r := sw.record(t); r.DisconnectReason != cdr.ReasonNormal || r.ConnectTime.IsZero() {
			t.Errorf("call %d: record %s, connected %v", i, r.DisconnectReason, r.ConnectTime)
		}
	}
}
