package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/internal/testenv"
)

// query runs SQL against the CDR database and returns the rows as maps.
func query(t *testing.T, dsn, sql string, args ...any) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRows waits until a count query returns want.
func waitRows(t *testing.T, dsn, countSQL string, want int64) {
	t.Helper()
	var got int64
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("%s to reach %d", countSQL, want), func() bool {
		got = query(t, dsn, countSQL)[0]["n"].(int64)
		return got >= want
	})
	if got != want {
		t.Fatalf("%s: %d, want %d", countSQL, got, want)
	}
}

// TestCDRsInPostgres places answered, busy, cancelled and failed-over calls
// with SIPp and checks each one's row in PostgreSQL, field by field.
func TestCDRsInPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	answer := uas(t, "uas.xml", nil)
	busy := uas(t, "uas_reject.xml", nil)
	ring := uas(t, "uas_noanswer.xml", nil)
	down := uas(t, "uas_reject.xml", map[string]string{"code": "503", "reason": "Service Unavailable"})
	backup := uas(t, "uas.xml", nil)
	p := startTollgate(t, fmt.Sprintf(`routes:
  - {name: answer, prefix: "1", gateways: [{address: %q}]}
  - {name: busy, prefix: "2", gateways: [{address: %q}]}
  - {name: ring, prefix: "3", gateways: [{address: %q}]}
  - {name: hunt, prefix: "4", gateways: [{address: %q}, {address: %q}]}
cdr:
  migrate: true
`, answer.Addr(), busy.Addr(), ring.Addr(), down.Addr(), backup.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)

	start := time.Now()
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "1001", Calls: 1, Pause: 1100 * time.Millisecond})
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac_reject.xml", Service: "2002", Calls: 1})
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac_cancel.xml", Service: "3003", Calls: 1, Pause: 300 * time.Millisecond})
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "4004", Calls: 1})
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", 4)

	row := func(called string) map[string]any {
		rs := query(t, dsn, "SELECT * FROM cdrs WHERE called_received = $1", called)
		if len(rs) != 1 {
			t.Fatalf("%d rows for %s, want 1", len(rs), called)
		}
		return rs[0]
	}
	common := func(r map[string]any, called, route string) {
		t.Helper()
		for col, want := range map[string]any{
			"caller_number": "sipp", "called_received": called, "called_sent": called,
			"source_ip": "127.0.0.1", "route": route,
		} {
			if fmt.Sprint(r[col]) != fmt.Sprint(want) {
				t.Errorf("%s: %s = %v, want %v", called, col, r[col], want)
			}
		}
		id, _ := r["id"].([16]byte)
		if id == ([16]byte{}) {
			t.Errorf("%s: no id", called)
		}
		if s := r["conf_id"].(string); len(s) != 35 || strings.ToUpper(s) != s {
			t.Errorf("%s: conf_id %q", called, s)
		}
		if r["call_id_a"] == "" || r["call_id_b"] == "" || r["call_id_a"] == r["call_id_b"] {
			t.Errorf("%s: call ids %v %v", called, r["call_id_a"], r["call_id_b"])
		}
		setup := r["setup_time"].(time.Time)
		if setup.Before(start.Add(-time.Second)) || r["disconnect_time"].(time.Time).Before(setup) {
			t.Errorf("%s: times setup %v disconnect %v", called, setup, r["disconnect_time"])
		}
		if port := r["source_port"].(int32); port <= 0 {
			t.Errorf("%s: source_port %d", called, port)
		}
	}

	a := row("1001")
	common(a, "1001", "answer")
	if a["sip_code"] != int16(200) && a["sip_code"] != int32(200) {
		t.Errorf("answered: sip_code %v (%T)", a["sip_code"], a["sip_code"])
	}
	for col, want := range map[string]string{"disconnect_reason": "normal", "released_by": "caller",
		"q850_cause": "16", "gateway": answer.Addr(), "attempt_count": "1", "billed_seconds": "2"} {
		if fmt.Sprint(a[col]) != want {
			t.Errorf("answered: %s = %v, want %s", col, a[col], want)
		}
	}
	if a["connect_time"] == nil || a["ringing_time"] == nil || a["duration_ms"].(int64) < 1000 {
		t.Errorf("answered: connect %v ringing %v duration %v", a["connect_time"], a["ringing_time"], a["duration_ms"])
	}

	b := row("2002")
	common(b, "2002", "busy")
	for col, want := range map[string]string{"sip_code": "486", "disconnect_reason": "busy", "released_by": "callee",
		"q850_cause": "17", "billed_seconds": "0"} {
		if fmt.Sprint(b[col]) != want {
			t.Errorf("busy: %s = %v, want %s", col, b[col], want)
		}
	}
	if b["connect_time"] != nil {
		t.Errorf("busy: connect_time %v", b["connect_time"])
	}

	c := row("3003")
	common(c, "3003", "ring")
	for col, want := range map[string]string{"sip_code": "487", "disconnect_reason": "cancelled", "released_by": "caller",
		"q850_cause": "16"} {
		if fmt.Sprint(c[col]) != want {
			t.Errorf("cancelled: %s = %v, want %s", col, c[col], want)
		}
	}
	if c["ringing_time"] == nil || c["connect_time"] != nil {
		t.Errorf("cancelled: ringing %v connect %v", c["ringing_time"], c["connect_time"])
	}

	h := row("4004")
	common(h, "4004", "hunt")
	for col, want := range map[string]string{"sip_code": "200", "disconnect_reason": "normal", "attempt_count": "2",
		"gateway": backup.Addr()} {
		if fmt.Sprint(h[col]) != want {
			t.Errorf("failed over: %s = %v, want %s", col, h[col], want)
		}
	}
	attempts := fmt.Sprint(h["attempts"])
	if !strings.Contains(attempts, down.Addr()) || !strings.Contains(attempts, "503") {
		t.Errorf("failed over: attempts %s", attempts)
	}

	// The same rows come out of tollgate cdr export.
	export := exec.Command(binary, "cdr", "export", "-c", p.cfg, "--from", start.Add(-time.Minute).Format(time.RFC3339))
	export.Env = append(os.Environ(), "TOLLGATE_CDR_DATABASE="+dsn)
	var stderr strings.Builder
	export.Stderr = &stderr
	out, err := export.Output()
	if err != nil {
		t.Fatalf("cdr export: %v: %s", err, stderr.String())
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("cdr export: %d CSV rows (%v), want a header and 4", len(recs), err)
	}
}

// TestCDRsSurvivePostgresOutage stops PostgreSQL during 1,000 calls and
// starts it again: every CDR arrives, exactly once.
func TestCDRsSurvivePostgresOutage(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.DSN()
	gw := uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gw)+"cdr:\n  migrate: true\n", "TOLLGATE_CDR_DATABASE="+dsn)
	const calls = 1000
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: calls, Rate: 100, Timeout: 90 * time.Second})
	testenv.Eventually(t, 20*time.Second, "150 calls", func() bool { st, _ := caller.Stats(); return st.Successful >= 150 })
	pg.Stop()
	testenv.Eventually(t, 20*time.Second, "600 calls with the database down", func() bool { st, _ := caller.Stats(); return st.Successful >= 600 })
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(90 * time.Second)
	defer cancel()
	if st, err := caller.Wait(ctx); err != nil || st.Successful != calls {
		t.Fatalf("SIPp: %s %v", st, err)
	}
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", calls)
	waitRows(t, dsn, "SELECT count(DISTINCT id) AS n FROM cdrs", calls)
	waitRows(t, dsn, "SELECT count(DISTINCT call_id_a) AS n FROM cdrs", calls)
}

// TestCDRsSurviveSIGKILL kills tollgate under load: after a restart, every
// call that was answered has exactly one CDR — normal for those that ended,
// "switch restart" from the journal for those still up at the kill.
func TestCDRsSurviveSIGKILL(t *testing.T) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	gw := uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gw)+"cdr:\n  migrate: true\n", "TOLLGATE_CDR_DATABASE="+dsn)
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: 20, Rate: 100, Pause: time.Minute, Timeout: 90 * time.Second})
	short := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "200",
		Rate: 100, Timeout: 90 * time.Second})
	testenv.Eventually(t, 20*time.Second, "the long calls up", func() bool { st, _ := gw.Stats(); return st.Created >= 20 })
	testenv.Eventually(t, 20*time.Second, "200 short calls", func() bool { st, _ := short.Stats(); return st.Successful >= 200 })
	testenv.Eventually(t, 20*time.Second, "the long calls in the journal", func() bool { return journaled(t, p) >= 20 })
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)
	done, _ := short.Stats() // a lower bound: SIPp reports every second
	short.Stop()
	long.Stop()

	p.start("TOLLGATE_CDR_DATABASE=" + dsn)
	if n := query(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE called_received = '100'")[0]["n"].(int64); n != 0 {
		// Not an error by itself: but a long call cannot have ended normally.
		t.Logf("%d long-call rows before recovery", n)
	}
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE called_received = '100' AND disconnect_reason = 'switch restart'", 20)
	rows := query(t, dsn, `SELECT count(*) AS n, count(DISTINCT call_id_a) AS calls FROM cdrs WHERE called_received = '200'`)[0]
	if rows["n"] != rows["calls"] {
		t.Errorf("duplicate CDRs: %v rows for %v calls", rows["n"], rows["calls"])
	}
	if n := rows["n"].(int64); n < int64(done.Successful) {
		t.Errorf("%d short-call CDRs, but SIPp completed at least %d calls before the kill", n, done.Successful)
	}
	for _, r := range query(t, dsn, "SELECT disconnect_time, connect_time, duration_ms FROM cdrs WHERE disconnect_reason = 'switch restart' AND connect_time IS NOT NULL") {
		if r["disconnect_time"].(time.Time).Before(r["connect_time"].(time.Time)) || r["duration_ms"].(int64) < 0 {
			t.Errorf("recovered record with bad times: %v", r)
		}
	}
}

// journaled counts the calls that the running switch's journal holds as
// connected. It reads a copy, so that the process's own file is untouched
// and a frame being written is only a torn tail to the copy's reader.
func journaled(t *testing.T, p *proc) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, "cdr", "journal", "connected.log"))
	if err != nil {
		return 0
	}
	dir, err := os.MkdirTemp(t.TempDir(), "journal")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "connected.log"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := cdr.OpenJournal(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n := 0
	for _, o := range j.Recover() {
		if !o.Record.ConnectTime.IsZero() {
			n++
		}
	}
	return n
}
