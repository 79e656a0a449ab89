package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestSIGKILLRecoversEveryCallAndItsStops kills tollgate (SIGKILL) with
// calls connected and calls still ringing, then starts it again: every call
// that reached the switch has exactly one CDR, and every accounting session
// that was open gets exactly one Stop — FreeRADIUS's detail file holds one
// Start and one Stop per leg of each connected call, a Stop per leg (the
// caller's, and the attempt ringing) of each call in setup, and nothing
// twice.
func TestSIGKILLRecoversEveryCallAndItsStops(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{})
	answering := uas(t, "uas.xml", nil)
	ringing := uas(t, "uas_noanswer.xml", nil)
	p := startTollgate(t, fmt.Sprintf(`routes:
  - prefix: "100"
    gateways: [{address: %q}]
  - prefix: "200"
    gateways: [{address: %q}]
radius:
  acct_servers: [{address: %q, secret: %q}]
cdr:
  migrate: true
`, answering.Addr(), ringing.Addr(), fr.AcctAddr, fr.Secret), "TOLLGATE_CDR_DATABASE="+dsn)
	const up, setup = 20, 10
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: up, Rate: 100, Pause: time.Minute, Timeout: 90 * time.Second})
	waiting := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "200",
		Calls: setup, Rate: 100, Timeout: 90 * time.Second})
	journal := filepath.Join(p.dir, "cdr", "journal", "connected.log")
	entries := func(s string) int {
		b, _ := os.ReadFile(journal)
		return bytes.Count(b, []byte(s))
	}
	// Every call is in the journal — the ringing ones by their setup
	// entries (only written, not synced: a process crash keeps them), the
	// connected ones by their connected entries (a setup entry still
	// unwritten when its call connected is never written) — and the
	// connected calls' Starts have gone.
	callIDs := regexp.MustCompile(`"id":"([^"]+)"`)
	calls := func() int {
		b, _ := os.ReadFile(journal)
		ids := map[string]bool{}
		for _, m := range callIDs.FindAllSubmatch(b, -1) {
			ids[string(m[1])] = true
		}
		return len(ids)
	}
	testenv.Eventually(t, 20*time.Second, "calls up and ringing, in the journal", func() bool {
		return calls() >= up+setup && entries(`"connect_time":"20`) >= up &&
			detailCount(t, fr, "Start") >= 2*up
	})
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	long.Stop()
	waiting.Stop()
	starts := detailCount(t, fr, "Start")
	if starts != 2*up {
		t.Fatalf("%d Starts before the kill, want %d", starts, 2*up)
	}

	p.start("TOLLGATE_CDR_DATABASE=" + dsn)
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", up+setup)
	rows := query(t, dsn, `SELECT count(*) AS n, count(DISTINCT call_id_a) AS calls,
		count(*) FILTER (WHERE connect_time IS NOT NULL) AS answered,
		count(*) FILTER (WHERE disconnect_reason = 'switch restart') AS recovered FROM cdrs`)[0]
	if rows["n"] != int64(up+setup) || rows["calls"] != int64(up+setup) || rows["answered"] != int64(up) || rows["recovered"] != int64(up+setup) {
		t.Errorf("CDRs after the restart: %v, want %d calls, %d answered, all recovered", rows, up+setup, up)
	}
	// Stops: both legs of every call, connected or ringing.
	testenv.Eventually(t, 20*time.Second, "the recovered calls' Stops", func() bool { return detailCount(t, fr, "Stop") >= 2*(up+setup) })
	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Get("Acct-Session-Id")+" "+r.Get("h323-call-origin")+" "+r.Get("Acct-Status-Type")]++
		if r.Get("Acct-Status-Type") == "Stop" && r.Get("Acct-Terminate-Cause") != "NAS-Reboot" {
			t.Errorf("recovered Stop with Acct-Terminate-Cause %q", r.Get("Acct-Terminate-Cause"))
		}
	}
	for key, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d records", key, n)
		}
	}
	if stops := detailCount(t, fr, "Stop"); stops != 2*(up+setup) {
		t.Errorf("%d Stops, want %d", stops, 2*(up+setup))
	}
	testenv.Eventually(t, 10*time.Second, "the accounting queue gauge at 0", func() bool {
		return metric(p.metrics(), "tollgate_radius_acct_queue_depth") == "0"
	})
	// A recovered call ends at the last time the process was known alive:
	// here, moments after it connected.
	for _, r := range query(t, dsn, `SELECT call_id_a, duration_ms, connect_time, disconnect_time FROM cdrs WHERE connect_time IS NOT NULL`) {
		if r["duration_ms"].(int64) < 0 || r["disconnect_time"].(time.Time).Before(r["connect_time"].(time.Time)) {
			t.Errorf("recovered connected call with bad times: %v", r)
		}
	}
}

// detailCount counts FreeRADIUS's accounting records of one status type.
func detailCount(t *testing.T, fr *testenv.FreeRADIUS, status string) int {
	t.Helper()
	recs, err := fr.Detail()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Get("Acct-Status-Type") == status {
			n++
		}
	}
	return n
}
