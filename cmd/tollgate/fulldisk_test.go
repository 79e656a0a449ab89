package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// startTollgateOnTmpfs is startTollgate with cdr.dir on a tmpfs of size
// bytes mounted by the test (tests run as root): a disk that fills for real.
func startTollgateOnTmpfs(t *testing.T, size int, body string, env ...string) (*proc, string) {
	t.Helper()
	p := &proc{t: t, ip: "127.0.0.1", port: testenv.FreePort(t), dir: t.TempDir(), lines: make(chan string, 1000),
		exited: make(chan struct{})}
	mnt := filepath.Join(p.dir, "cdr")
	if err := os.Mkdir(mnt, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	p.cfg = filepath.Join(p.dir, "tollgate.yaml")
	p.writeConfig(body)
	p.start(env...)
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("tollgate log:\n%s", p.output())
		}
	})
	return p, mnt
}

// metrics scrapes the process's /metrics.
func (p *proc) metrics() string {
	p.t.Helper()
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.webPort))
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

// metric finds the series name in a /metrics text whose labels include
// each of labels (`state="ok"`), whatever other labels it has (the node),
// and returns its value, or "" when there is none.
func metric(metrics, name string, labels ...string) string {
	for _, line := range strings.Split(metrics, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(series, l)
		}
		if all {
			return value
		}
	}
	return ""
}

// fillDisk writes a file until its file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestFullSpoolDiskRefusesNewCalls fills the disk under cdr.dir while calls
// are up: their records still reach PostgreSQL (through the spool's
// reserve), new calls get 503 while the disk is full, and calls are taken
// again once it has room. Every answered call has exactly one CDR.
func TestFullSpoolDiskRefusesNewCalls(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	gw := uas(t, "uas.xml", nil)
	p, mnt := startTollgateOnTmpfs(t, 2<<20, gateways("", gw)+
		"cdr:\n  migrate: true\n  segment_size: 65536\n  reserve: 262144\n", "TOLLGATE_CDR_DATABASE="+dsn)
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: 20, Rate: 100, Pause: 3 * time.Second, Timeout: 60 * time.Second})
	testenv.Eventually(t, 20*time.Second, "the long calls up", func() bool { st, _ := gw.Stats(); return st.Created >= 20 })

	fillDisk(t, filepath.Join(mnt, "filler"))
	refused := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "200",
		Calls: 20, Rate: 20, Timeout: 30 * time.Second})
	ctx, cancel := contextWithTimeout(60 * time.Second)
	defer cancel()
	// The spool looks at its disk once a second: a call in the first second
	// may still be taken (its record then goes into the reserve).
	onFull, _ := refused.Wait(ctx)
	if onFull.Failed < 18 || onFull.Successful+onFull.Failed != 20 {
		t.Errorf("calls on a full disk: %s, want them refused", onFull)
	}
	metrics := p.metrics()
	for _, want := range []struct{ name, label, value string }{
		{"tollgate_cdr_spool_state", `state="on_reserve"`, "1"},
		{"tollgate_cdr_no_space_refused_total", "", fmt.Sprint(onFull.Failed)},
		{"tollgate_cdr_store_state", `state="ok"`, "1"},
	} {
		if got := metric(metrics, want.name, want.label); got != want.value {
			t.Errorf("/metrics on a full disk: %s{%s} = %q, want %s", want.name, want.label, got, want.value)
		}
	}
	if st, err := long.Wait(ctx); err != nil || st.Successful != 20 {
		t.Fatalf("calls up when the disk filled: %s %v", st, err)
	}
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	p.waitLog("cdr spool ready again", 10*time.Second)
	again := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "300",
		Calls: 10, Rate: 20, Timeout: 30 * time.Second})
	if st, err := again.Wait(ctx); err != nil || st.Successful != 10 {
		t.Fatalf("calls once the disk has room: %s %v", st, err)
	}
	answered := int64(30 + onFull.Successful)
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", answered)
	waitRows(t, dsn, "SELECT count(DISTINCT call_id_a) AS n FROM cdrs WHERE sip_code = 200", answered)
	if n := strings.Count(p.output(), "cdr spool disk full"); n < 1 {
		t.Errorf("the full disk was logged %d times", n)
	}
}

// TestSIGTERMWritesOrNamesEveryHeldRecord fills the spool's disk, reserve
// included, while calls end: their records are held in memory. SIGTERM
// waits for each: written (shipping frees space), or logged whole with the
// reason. After a restart on the disk still full every call has exactly one
// CDR in PostgreSQL — one logged at exit comes back from the journal, under
// the same ID.
func TestSIGTERMWritesOrNamesEveryHeldRecord(t *testing.T) {
	t.Parallel()
	const calls = 30
	p, mnt, dsn := holdRecordsOnAFullDisk(t, calls)
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	held, written, named := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(p.output(), "\n") {
		var l struct {
			Msg   string `json:"msg"`
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l.Msg {
		case "call record not written; holding it and retrying":
			held[l.ID] = true
		case "held call record written":
			written[l.ID] = true
		case "call record not written before exit: it is in the log line above":
			if l.Error == "" {
				t.Errorf("%s not written, and no reason given", l.ID)
			}
			named[l.ID] = true
		}
	}
	if len(held) == 0 {
		t.Fatal("no record was held: the disk did not fill")
	}
	for id := range held {
		if written[id] == named[id] {
			t.Errorf("held record %s: written %v, named at exit %v", id, written[id], named[id])
		}
	}
	t.Logf("%d records held: %d written before exit, %d logged at exit", len(held), len(written), len(named))

	// The restart is on the disk still full: it starts, and the calls it
	// recovers get their records once there is room.
	p.start("TOLLGATE_CDR_DATABASE=" + dsn)
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	waitRows(t, dsn, "SELECT count(DISTINCT id) AS n FROM cdrs", calls)
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", calls)
}

// TestSIGKILLOnAFullDiskLosesNoRecord: the records of calls that ended while
// the spool's disk was full are held in memory when the process is killed.
// They are not lost: those calls are still in the journal (an ended entry
// is written only once a call's record is in the spool), so the restart,
// on the disk still full, gives each of them its record once there is
// room — every call exactly one.
func TestSIGKILLOnAFullDiskLosesNoRecord(t *testing.T) {
	t.Parallel()
	const calls = 30
	p, mnt, dsn := holdRecordsOnAFullDisk(t, calls)
	p.signal(syscall.SIGKILL)
	p.waitExit(10 * time.Second)

	p.start("TOLLGATE_CDR_DATABASE=" + dsn)
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	waitRows(t, dsn, "SELECT count(DISTINCT id) AS n FROM cdrs", calls)
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", calls)
	waitRows(t, dsn, "SELECT count(DISTINCT call_id_a) AS n FROM cdrs", calls)
}

// holdRecordsOnAFullDisk starts tollgate with its spool on a 2 MiB tmpfs and
// records in PostgreSQL, places calls, fills the disk while they are up, and
// returns once they have ended and their records are held in memory.
func holdRecordsOnAFullDisk(t *testing.T, calls int) (p *proc, mnt, dsn string) {
	t.Helper()
	dsn = testenv.SharedPostgres(t).NewDatabase(t)
	gw := uas(t, "uas.xml", nil)
	p, mnt = startTollgateOnTmpfs(t, 2<<20, gateways("", gw)+
		"cdr:\n  migrate: true\n  segment_size: 65536\n  reserve: 8192\n", "TOLLGATE_CDR_DATABASE="+dsn)
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: calls, Rate: 100, Pause: 3 * time.Second, Timeout: 60 * time.Second})
	testenv.Eventually(t, 20*time.Second, "the calls up", func() bool { st, _ := gw.Stats(); return st.Created >= calls })
	fillDisk(t, filepath.Join(mnt, "filler"))
	ctx, cancel := contextWithTimeout(60 * time.Second)
	defer cancel()
	if st, err := caller.Wait(ctx); err != nil || st.Successful != calls {
		t.Fatalf("calls: %s %v", st, err)
	}
	testenv.Eventually(t, 10*time.Second, "records held in memory", func() bool {
		held := metric(p.metrics(), "tollgate_cdr_records_held")
		return held != "" && held != "0"
	})
	return p, mnt, dsn
}
