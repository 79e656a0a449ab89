package b2bua

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// tlsOptions is an OPTIONS to the switch at port, written by hand to a
// TLS connection that carries no listener of its own.
func tlsOptions(port, n int) string {
	return fmt.Sprintf("OPTIONS sip:127.0.0.1:%d;transport=tls SIP/2.0\r\n"+
		"Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKidle%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=idle%d\r\nTo: <sip:127.0.0.1>\r\nCall-ID: idle-%d\r\n"+
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port, n, n, n)
}

// readResponse reads one SIP response's head from r.
func readResponse(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

// TestIdleConnectionClosed: with sip.connection_idle 1s, a TLS connection
// that carries nothing after its OPTIONS is closed by the switch, while
// one that sends RFC 5626 keepalives (a double CRLF) stays open and still
// gets its OPTIONS answered.
func TestIdleConnectionClosed(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	_, tlsPort := tlsSwitch(t, pki, "  connection_idle: 1s\n", "routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:9\"}]}]\n")
	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tlsPort), peerTLS(t, pki, false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	quiet, quietR := dial()
	alive, aliveR := dial()
	for i, c := range []struct {
		conn *tls.Conn
		r    *bufio.Reader
	}{{quiet, quietR}, {alive, aliveR}} {
		if _, err := io.WriteString(c.conn, tlsOptions(tlsPort, i)); err != nil {
			t.Fatal(err)
		}
		if head, err := readResponse(c.r); err != nil || !strings.HasPrefix(head, "SIP/2.0 200") {
			t.Fatalf("OPTIONS: %q %v", head, err)
		}
	}
	stop := make(chan struct{})
	pinged := make(chan error, 1)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				pinged <- nil
				return
			case <-tick.C:
				if _, err := io.WriteString(alive, "\r\n\r\n"); err != nil {
					pinged <- err
					return
				}
			}
		}
	}()
	quiet.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := quietR.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("quiet connection: read %v, want EOF (closed by the switch)", err)
	}
	close(stop)
	if err := <-pinged; err != nil {
		t.Fatalf("keepalive connection: %v", err)
	}
	if _, err := io.WriteString(alive, tlsOptions(tlsPort, 9)); err != nil {
		t.Fatalf("keepalive connection closed: %v", err)
	}
	for {
		// The switch's pongs (a CRLF each) come before the response.
		head, err := readResponse(aliveR)
		if err != nil {
			t.Fatalf("keepalive connection: %q %v", head, err)
		}
		if head = strings.TrimLeft(head, "\r\n"); head != "" {
			if !strings.HasPrefix(head, "SIP/2.0 200") {
				t.Fatalf("keepalive connection's OPTIONS: %q", head)
			}
			break
		}
	}
}

// TestTLSPeerDropsItsConnection: two callers over TLS, each with a call up
// to the same gateway; one caller's connection breaks mid-call. The other
// call is untouched — its INFO crosses and is answered, it ends normally.
// The broken one still ends with its one record when the gateway hangs up:
// the gateway's BYE is answered, while the switch's BYE toward the caller
// goes to the flow the caller opened (requests to a caller go where its
// messages came from), which is gone, and fails on its own.
func TestTLSPeerDropsItsConnection(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	gw := newPeer(t, "gw")
	sessions := make(chan *sipgo.DialogServerSession, 2)
	gw.answer(0, sessions)
	sw, tlsPort := tlsSwitch(t, pki, "", fmt.Sprintf("routes: [{prefix: \"\", gateways: [{address: %q}]}]\n", gw.addr()))
	dropper := startPeerTLS(t, "dropper", "127.0.0.1", nil, peerTLS(t, pki, false))
	steady := startPeerTLS(t, "steady", "127.0.0.1", nil, peerTLS(t, pki, false))
	place(t, dropper, tlsURI("100", tlsPort), sdpOffer, nil)
	gsDrop := <-sessions
	dsSteady, _ := place(t, steady, tlsURI("200", tlsPort), sdpOffer, nil)
	<-sessions

	conn, err := dropper.ua.TransportLayer().GetConnection("tls", "127.0.0.1:"+strconv.Itoa(tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()

	ctx := within(t, 20*time.Second)
	info := newInfo(dsSteady)
	res, err := dsSteady.Do(ctx, info)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("steady caller's INFO: %v %v", res, err)
	}
	if err := gsDrop.Bye(ctx); err != nil {
		t.Fatalf("gateway's BYE of the dropped caller's call: %v", err)
	}

	if r := sw.record(t); r.CalledReceived != "100" || r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCallee {
		t.Errorf("dropped caller's record = %+v", r)
	}
	if err := dsSteady.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sw.record(t); r.CalledReceived != "200" || r.DisconnectReason != cdr.ReasonNormal || r.ReleasedBy != cdr.ReleasedByCaller {
		t.Errorf("steady caller's record = %+v", r)
	}
	testenv.Eventually(t, 5*time.Second, "no call left", func() bool { return sw.ActiveCalls() == 0 })
}

// TestConnectionIdleOption: sip.connection_idle defaults to an hour and
// refuses less than a second.
func TestConnectionIdleOption(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte("routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:9\"}]}]\n"))
	if err != nil || c.SIP.ConnectionIdle != time.Hour {
		t.Errorf("default %v, %v", c.SIP.ConnectionIdle, err)
	}
	_, err = config.Parse([]byte("sip:\n  connection_idle: 10ms\n"))
	if err == nil || !strings.Contains(err.Error(), "sip.connection_idle") {
		t.Errorf("err = %v", err)
	}
}
