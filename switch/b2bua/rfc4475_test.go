package b2bua

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// torture is what the running switch answers to each RFC 4475 message
// received over UDP, bit-exact: the front door's verdict (sipcheck's own
// test gives the reasons) or, for a valid message, what the core does with
// it in a switch with no route for it (0: no answer).
var torture = map[string]int{
	// 3.1.1 valid messages, handled by the core.
	"wsinv":   481, // it carries a To tag: an in-dialog request for no dialog
	"intmeth": 501, "esc01": 404, "escnull": 405, "esc02": 501, "lwsdisp": 200,
	"longreq": 404, "dblreq": 405, "semiuri": 200, "transports": 200, "mpart01": 405,
	"unreason": 0, "noreason": 0,
	// 3.1.2 invalid messages: 400 where a response can be formed.
	"badinv01": 0, "clerr": 400, "ncl": 400, "scalar02": 0, "scalarlg": 0, "quotbal": 0,
	"ltgtruri": 400, "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400, "baddate": 404,
	"regbadct": 400, "badaspec": 0, "baddn": 400, "badvers": 505, "mismatch01": 400, "mismatch02": 400,
	"bigcode": 0,
	// 3.2 transaction layer.
	"badbranch": 200,
	// 3.3 application layer.
	"insuf": 400, "unkscm": 416, "novelsc": 416, "unksm2": 405, "bext01": 420, "invut": 415,
	"regaut01": 405, "multi01": 400, "mcl01": 400, "bcast": 0, "zeromf": 200, "cparam01": 405,
	"cparam02": 405, "regescrt": 405, "sdp01": 406,
	// 3.4 RFC 2543 requests have no From tag, from which sipgo must build the
	// transaction key: sipgo answers 400. RFC 2543 has been obsolete since 2002.
	"inv2543": 400,
}

var viaPort = regexp.MustCompile(`(?im)^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*[0-9.]+[ \t]*/[ \t]*[A-Z]+[ \t]+[^ \t;:\r\n]+(?::([0-9]+))?`)

// TestRFC4475TortureMessages replays each torture message to a fresh switch
// and checks its answer. A fresh switch each time, because the messages
// reuse branches and Call-IDs that would make one a retransmission of
// another. Responses go to the source address with the Via's port (RFC
// 3261 18.2.2), so each message is sent from 127.44.75.1 on that port (an
// address of the loopback range no other test uses, so that a test binding
// 127.0.0.x:5060 elsewhere cannot collide with it):
// nothing leaves the loopback, and the messages stay bit-exact.
func TestRFC4475TortureMessages(t *testing.T) {
	t.Parallel()
	files := tortureFiles(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		t.Run(name, func(t *testing.T) {
			want, ok := torture[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			sw := startSwitch(t, "")
			if got := tortureExchange(t, sw.addr(), readFile(t, f)); got != want {
				t.Errorf("switch answered %d, want %d", got, want)
			}
		})
	}
}

// TestRFC4475LeavesCallsAlone sends every torture message, back to back, to
// a switch carrying a call: the call must carry on, and the switch too.
func TestRFC4475LeavesCallsAlone(t *testing.T) {
	t.Parallel()
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	sw := startSwitch(t, "routes:\n  - prefix: \"1555\"\n    gateways: [{address: \""+gw.addr()+"\"}]\n")
	caller := newPeer(t, "caller")
	ctx := within(t, 30*time.Second)
	ds, err := caller.call(ctx, sw.uri("15551230002"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", sw.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range tortureFiles(t) {
		if _, err := c.Write(readFile(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	waitListening(t, sw.addr())
	if res, err := ds.Do(ctx, newInfo(ds)); err != nil || res.StatusCode != 200 {
		t.Fatalf("the call was disturbed: %v %v", res, err)
	}
	if err := ds.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	for r := range drain(sw) {
		if r.CalledReceived == "15551230002" && (r.SIPCode != 200 || r.DisconnectReason != "normal") {
			t.Errorf("the call's record = %+v", r)
		}
	}
	if sw.ActiveCalls() != 0 {
		t.Errorf("%d calls left up", sw.ActiveCalls())
	}
}

func tortureFiles(t *testing.T) []string {
	files, err := filepath.Glob("../sipcheck/testdata/rfc4475/*.dat")
	if err != nil || len(files) != 49 {
		t.Fatalf("want the 49 torture messages, found %d (%v)", len(files), err)
	}
	return files
}

func readFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tortureExchange sends one message from 127.44.75.1 on its Via port and
// returns the final status code answered, or 0 when none came.
func tortureExchange(t *testing.T, to string, msg []byte) int {
	t.Helper()
	port := 5060
	if m := viaPort.FindSubmatch(msg); m != nil && len(m[1]) > 0 {
		port, _ = strconv.Atoi(string(m[1]))
	}
	c, err := net.ListenPacket("udp4", fmt.Sprintf("127.44.75.1:%d", port))
	if err != nil {
		t.Fatalf("bind 127.44.75.1:%d: %v", port, err)
	}
	defer c.Close()
	raddr, _ := net.ResolveUDPAddr("udp4", to)
	if _, err := c.WriteTo(msg, raddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(time.Second)
	for {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0
		}
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		f := strings.Fields(string(line))
		if len(f) < 2 || f[0] != "SIP/2.0" {
			t.Fatalf("not a response: %q", line)
		}
		code, _ := strconv.Atoi(f[1])
		if code >= 200 {
			return code
		}
	}
}
