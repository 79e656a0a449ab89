package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestInterfacesWithSIPp: the real binary with two interfaces beside its
// default one — intern on 127.0.0.2, extern on 127.0.0.3, each with its
// media on its own address through the built-in relay — and a profile
// bridging them. A SIPp caller calls 127.0.0.2; the SIPp gateway gets the
// INVITE from 127.0.0.3 with Via, Contact and SDP on 127.0.0.3, and the
// caller's 200 carries Contact and SDP on 127.0.0.2. The gateway hangs up:
// the caller's BYE comes from intern.
func TestInterfacesWithSIPp(t *testing.T) {
	intern, extern := testenv.FreePort(t), testenv.FreePort(t)
	lo, hi := testenv.FreeUDPRange(t, 40, 5000, 10000)
	gw := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uas_bye.xml", Trace: true, Timeout: 60 * time.Second,
		Pause: 500 * time.Millisecond})
	p := &proc{t: t, ip: "127.0.0.1", port: testenv.FreePort(t), dir: t.TempDir(), lines: make(chan string, 1000),
		exited: make(chan struct{})}
	p.cfg = filepath.Join(p.dir, "tollgate.yaml")
	p.writeConfig(fmt.Sprintf(`media:
  mode: builtin
  builtin: {port_min: %d, port_max: %d}
routes:
  - {prefix: "", gateways: [{address: %q}], profile: bridge}
profiles:
  - name: bridge
    outbound_interface: extern
    rtprelay_interface: extern
    aleg_rtprelay_interface: intern
`, lo, hi, gw.Addr()))
	// The default interface is writeConfig's sip.listen; the named ones go beside it.
	cfg, err := os.ReadFile(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	withIfaces := strings.Replace(string(cfg), "sip:\n", fmt.Sprintf(`sip:
  interfaces:
    - {name: intern, listen: ["udp:127.0.0.2:%d"], media_ip: 127.0.0.2}
    - {name: extern, listen: ["udp:127.0.0.3:%d"], media_ip: 127.0.0.3}
`, intern, extern), 1)
	if err := os.WriteFile(p.cfg, []byte(withIfaces), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("tollgate log:\n%s", p.output())
		}
	})

	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: fmt.Sprintf("127.0.0.2:%d", intern),
		Service: "100", Calls: 1, Trace: true, Timeout: 30 * time.Second})
	waitCaller(t, caller, "the caller hung up by the gateway")

	gwLog := readLog(t, gw)
	callerLog := readLog(t, caller)
	for _, want := range []string{
		fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.3:%d", extern),
		fmt.Sprintf("Contact: <sip:127.0.0.3:%d>", extern),
		"c=IN IP4 127.0.0.3",
	} {
		if !strings.Contains(firstMessage(gwLog, "INVITE sip:"), want) {
			t.Errorf("the gateway's INVITE lacks %q:\n%s", want, firstMessage(gwLog, "INVITE sip:"))
		}
	}
	ok := firstMessage(callerLog, "SIP/2.0 200")
	for _, want := range []string{fmt.Sprintf("Contact: <sip:127.0.0.2:%d>", intern), "c=IN IP4 127.0.0.2"} {
		if !strings.Contains(ok, want) {
			t.Errorf("the caller's 200 lacks %q:\n%s", want, ok)
		}
	}
	if bye := firstMessage(callerLog, "BYE sip:"); !strings.Contains(bye, fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.2:%d", intern)) {
		t.Errorf("the caller's BYE is not from intern:\n%s", bye)
	}
}

func readLog(t *testing.T, s *testenv.SIPp) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir(), "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// messageStart splits SIPp's message log: each message follows a line of
// dashes and a "... message received/sent" line.
var messageStart = regexp.MustCompile(`(?m)^-+ .*\n.*(?:received|sent).*\n`)

// firstMessage is the first message of a SIPp log whose first line starts
// with prefix, "" when none does.
func firstMessage(log, prefix string) string {
	for _, m := range messageStart.Split(log, -1) {
		if m = strings.TrimLeft(m, "\r\n "); strings.HasPrefix(m, prefix) {
			return m
		}
	}
	return ""
}
