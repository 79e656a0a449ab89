package b2bua

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// crlfClient is a phone on TCP as RFC 5626 has it: it registers, answers
// the switch's double-CRLF pings with a CRLF while answer is set, and
// counts what it reads.
type crlfClient struct {
	conn   net.Conn
	answer atomic.Bool
	mu     sync.Mutex
	read   bytes.Buffer
	pings  int // reads that were a double CRLF alone
	pongs  int // reads that were a CRLF alone
}

func (c *crlfClient) loop() {
	buf := make([]byte, 4096)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			return
		}
		chunk := buf[:n]
		c.mu.Lock()
		c.read.Write(chunk)
		switch string(chunk) {
		case "\r\n\r\n":
			c.pings++
			if c.answer.Load() {
				c.conn.Write([]byte("\r\n"))
			}
		case "\r\n":
			c.pongs++
		}
		c.mu.Unlock()
	}
}

func (c *crlfClient) counts() (read string, pings, pongs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read.String(), c.pings, c.pongs
}

// TestCRLFKeepalive: with nat_keepalive_method crlf a client behind NAT on
// TCP gets RFC 5626 pings over its connection; answered, its binding
// stays; once it stops answering, the binding is dropped as a dead flow.
// The switch answers the client's own ping with a pong.
func TestCRLFKeepalive(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	ts := startSwitch(t, fmt.Sprintf(`registration:
  mode: cache
  upstream: %s
  max_ua_expires: 60
  nat_keepalive: 1
  nat_keepalive_method: crlf
`, reg.Addr()))
	conn, err := net.Dial("tcp", ts.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &crlfClient{conn: conn}
	c.answer.Store(true)
	go c.loop()
	// The Contact names an address the client does not send from: behind NAT.
	if _, err := fmt.Fprintf(conn, "REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"+
		"Via: SIP/2.0/TCP %s;branch=z9hG4bK-crlf-1;rport\r\n"+
		"From: <sip:gina@127.0.0.1>;tag=crlf1\r\nTo: <sip:gina@127.0.0.1>\r\nCall-ID: crlf-keepalive-1\r\n"+
		"CSeq: 1 REGISTER\r\nContact: <sip:gina@192.0.2.1:5060;transport=tcp>\r\nExpires: 3600\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ts.port, conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "gina registered", func() bool {
		read, _, _ := c.counts()
		return bytes.Contains([]byte(read), []byte("SIP/2.0 200")) && len(ts.regs.Bindings("gina@127.0.0.1")) == 1
	})

	// The client's own ping gets its pong.
	c.mu.Lock()
	conn.Write([]byte("\r\n\r\n"))
	c.mu.Unlock()
	testenv.Eventually(t, 5*time.Second, "the switch's pong to the client's ping", func() bool {
		_, _, pongs := c.counts()
		return pongs == 1
	})

	testenv.Eventually(t, 10*time.Second, "three pings, each answered", func() bool {
		_, pings, _ := c.counts()
		return pings >= 3
	})
	if n := ts.stats.DeadFlows.Load(); n != 0 || len(ts.regs.Bindings("gina@127.0.0.1")) != 1 {
		t.Fatalf("answered pings dropped the binding (%d dead flows)", n)
	}
	if read, _, _ := c.counts(); bytes.Contains([]byte(read), []byte("OPTIONS ")) {
		t.Errorf("the client got an OPTIONS keepalive besides the pings")
	}

	c.answer.Store(false)
	testenv.Eventually(t, 10*time.Second, "gina's unanswering flow dropped", func() bool {
		return len(ts.regs.Bindings("gina@127.0.0.1")) == 0
	})
	if n := ts.stats.DeadFlows.Load(); n != 1 {
		t.Errorf("%d dead flows, want gina's", n)
	}
}
