package main

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestCDRsToSyslog: with cdr.syslog (SEMS's cc_syslog_cdr) a SIPp call's
// record reaches a syslog socket the test listens on, as RFC 5424 with
// the configured facility and tag, and the same record is in the daily
// CSV files: syslog is a sink beside the store, not instead of it.
func TestCDRsToSyslog(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	gw := uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gw)+fmt.Sprintf(`cdr:
  syslog: {address: "udp:%s", facility: local3, tag: tg-cdr}
`, pc.LocalAddr()))
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "1001", Calls: 1})
	csvRec := p.records(t, 1)[0]

	pc.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 65535)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no syslog message: %v", err)
	}
	// local3.info: 19*8+6.
	m := regexp.MustCompile(`^<158>1 \S+ \S+ tg-cdr \d+ cdr - (\{.*\})$`).FindSubmatch(buf[:n])
	if m == nil {
		t.Fatalf("syslog message %q", buf[:n])
	}
	var rec cdr.Record
	if err := json.Unmarshal(m[1], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != csvRec["id"] || rec.CalledReceived != "1001" || rec.SIPCode != 200 || rec.DisconnectReason != cdr.ReasonNormal {
		t.Errorf("syslog record %+v, CSV record %v", rec, csvRec)
	}
}
