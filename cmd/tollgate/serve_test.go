package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// gateways renders a route through SIPp gateways, with extra route lines.
func gateways(extra string, gws ...*testenv.SIPp) string {
	var b strings.Builder
	b.WriteString("routes:\n  - prefix: \"\"\n    gateways:\n")
	for _, g := range gws {
		fmt.Fprintf(&b, "      - {address: %q}\n", g.Addr())
	}
	if extra != "" {
		b.WriteString("    " + extra + "\n")
	}
	return b.String()
}

func uas(t testing.TB, scenario string, keys map[string]string) *testenv.SIPp {
	return testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: scenario, Keys: keys, Timeout: 90 * time.Second})
}

// TestCallFlowsWithSIPp runs SIPp callers and gateways through the real
// tollgate binary, one flow each, and checks both SIPp's verdict and the
// call records the switch wrote (daily CSV files: no database here).
func TestCallFlowsWithSIPp(t *testing.T) {
	t.Parallel()
	flows := []struct {
		name   string
		uac    string
		keys   map[string]string
		pause  time.Duration
		gws    []func(t *testing.T) *testenv.SIPp
		extra  string
		reason string // disconnect_reason of every record
		code   string
	}{
		{name: "caller hangs up", uac: "uac.xml", reason: "normal", code: "200",
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "callee hangs up", uac: "uac_wait_bye.xml", reason: "normal", code: "200", pause: 200 * time.Millisecond,
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas_bye.xml", nil) }}},
		{name: "cancel while ringing", uac: "uac_cancel.xml", reason: "cancelled", code: "487", pause: 300 * time.Millisecond,
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas_noanswer.xml", nil) }}},
		{name: "486 then the second gateway", uac: "uac.xml", reason: "normal", code: "200", extra: "hunt_stop: []",
			gws: []func(*testing.T) *testenv.SIPp{
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas_reject.xml", nil) },
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "503 then the second gateway", uac: "uac.xml", reason: "normal", code: "200",
			gws: []func(*testing.T) *testenv.SIPp{
				func(t *testing.T) *testenv.SIPp {
					return uas(t, "uas_reject.xml", map[string]string{"code": "503", "reason": "Service Unavailable"})
				},
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "no progress then the second gateway", uac: "uac.xml", reason: "normal", code: "200", extra: "no_progress: 500ms",
			gws: []func(*testing.T) *testenv.SIPp{
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas_noanswer.xml", map[string]string{"ring": "0"}) },
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "all gateways fail", uac: "uac_reject.xml", keys: map[string]string{"expect": "503"}, reason: "failed", code: "503",
			gws: []func(*testing.T) *testenv.SIPp{
				func(t *testing.T) *testenv.SIPp {
					return uas(t, "uas_reject.xml", map[string]string{"code": "404", "reason": "Not Found"})
				},
				func(t *testing.T) *testenv.SIPp {
					return uas(t, "uas_reject.xml", map[string]string{"code": "503", "reason": "Service Unavailable"})
				}}},
		{name: "busy stops the hunt", uac: "uac_reject.xml", keys: map[string]string{"expect": "486"}, reason: "busy", code: "486",
			gws: []func(*testing.T) *testenv.SIPp{
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas_reject.xml", nil) },
				func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "183 with SDP then 200", uac: "uac.xml", reason: "normal", code: "200",
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas_183.xml", nil) }}},
		{name: "caller holds and unholds", uac: "uac_hold.xml", reason: "normal", code: "200", pause: 100 * time.Millisecond,
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
		{name: "callee holds and unholds", uac: "uac_wait_bye.xml", reason: "normal", code: "200", pause: 100 * time.Millisecond,
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas_hold.xml", nil) }}},
		{name: "max duration", uac: "uac_wait_bye.xml", reason: "max duration", code: "200", extra: "max_duration: 1s",
			gws: []func(*testing.T) *testenv.SIPp{func(t *testing.T) *testenv.SIPp { return uas(t, "uas.xml", nil) }}},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			var gws []*testenv.SIPp
			for _, g := range f.gws {
				gws = append(gws, g(t))
			}
			p := startTollgate(t, gateways(f.extra, gws...))
			const calls = 3
			st := p.sippRun(t, testenv.SIPpOptions{Scenario: f.uac, Service: "15551230002", Calls: calls,
				Rate: 10, Pause: f.pause, Keys: f.keys, Timeout: 60 * time.Second})
			if st.Successful != calls || st.Failed != 0 {
				t.Fatalf("SIPp caller: %s", st)
			}
			for _, r := range p.records(t, calls) {
				if r["disconnect_reason"] != f.reason || r["sip_code"] != f.code {
					t.Errorf("record reason %q code %q, want %q %q: %v", r["disconnect_reason"], r["sip_code"], f.reason, f.code, r)
				}
			}
		})
	}
}

// records waits until the switch's daily CSV files hold n records and
// returns them as column → value maps.
func (p *proc) records(t *testing.T, n int) []map[string]string {
	t.Helper()
	var recs []map[string]string
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("%d call records", n), func() bool {
		recs = readCSVDir(t, filepath.Join(p.dir, "cdr", "csv"))
		return len(recs) >= n
	})
	if len(recs) != n {
		t.Fatalf("%d call records, want %d", len(recs), n)
	}
	return recs
}

func readCSVDir(t *testing.T, dir string) []map[string]string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	var out []map[string]string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil || len(rows) == 0 {
			continue // being written
		}
		for _, row := range rows[1:] {
			m := map[string]string{}
			for i, col := range rows[0] {
				if i < len(row) {
					m[col] = row[i]
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// TestSIGHUPReloadsWithoutDroppingCalls changes the route while calls are
// up: the calls carry on, new calls take the new route, and a broken file is
// refused with the running configuration kept.
func TestSIGHUPReloadsWithoutDroppingCalls(t *testing.T) {
	t.Parallel()
	gwA, gwB := uas(t, "uas.xml", nil), uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gwA))
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: 5, Rate: 50, Pause: 3 * time.Second, Timeout: 60 * time.Second})
	testenv.Eventually(t, 20*time.Second, "5 calls up through gateway A", func() bool { st, _ := gwA.Stats(); return st.Created >= 5 })

	p.writeConfig(gateways("", gwB))
	p.signal(syscall.SIGHUP)
	p.waitLog("configuration reloaded", 10*time.Second)
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "100", Calls: 2, Rate: 10})
	if st.Successful != 2 {
		t.Fatalf("calls after reload: %s", st)
	}
	testenv.Eventually(t, 20*time.Second, "gateway B to see the 2 new calls", func() bool { b, _ := gwB.Stats(); return b.Successful == 2 })

	os.WriteFile(p.cfg, []byte("routes: [\n"), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog("configuration reload refused", 10*time.Second)
	st = p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "100", Calls: 1, Rate: 10})
	if st.Successful != 1 {
		t.Fatalf("calls after a refused reload: %s", st)
	}

	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	if st, err := long.Wait(ctx); err != nil || st.Successful != 5 {
		t.Fatalf("calls up during the reloads: %s %v", st, err)
	}
	testenv.Eventually(t, 20*time.Second, "gateway A to see its 5 calls end", func() bool { a, _ := gwA.Stats(); return a.Successful == 5 })
	if a, _ := gwA.Stats(); a.Created != 5 {
		t.Errorf("gateway A got %d calls, want only the 5 from before the reload", a.Created)
	}
}

// TestSIGTERMDrains: on SIGTERM new calls get 503 while calls in progress
// finish, and the process exits once they have.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	gw := uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gw)+"timers:\n  drain: 20s\n")
	long := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: p.addr(), Service: "100",
		Calls: 3, Rate: 50, Pause: 2 * time.Second, Timeout: 60 * time.Second})
	testenv.Eventually(t, 20*time.Second, "3 calls up", func() bool { st, _ := gw.Stats(); return st.Created >= 3 })
	p.signal(syscall.SIGTERM)
	p.waitLog("draining calls", 10*time.Second)
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: "uac_reject.xml", Service: "100", Calls: 1,
		Keys: map[string]string{"expect": "503"}})
	if st.Successful != 1 {
		t.Fatalf("a call while draining was not refused with 503: %s", st)
	}
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	if st, err := long.Wait(ctx); err != nil || st.Successful != 3 {
		t.Fatalf("calls in progress did not finish: %s %v", st, err)
	}
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, r := range p.records(t, 4) {
		if r["disconnect_reason"] == "shutdown" {
			t.Errorf("a call was cut although it ended within the drain time: %v", r)
		}
	}
}

// TestSIGTERMCutsCallsAfterTheDrain: calls still up when the drain time
// ends are hung up, both legs, with the reason "shutdown".
func TestSIGTERMCutsCallsAfterTheDrain(t *testing.T) {
	t.Parallel()
	gw := uas(t, "uas.xml", nil)
	p := startTollgate(t, gateways("", gw)+"timers:\n  drain: 1s\n")
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: p.addr(),
		Service: "100", Calls: 2, Rate: 50, Timeout: 60 * time.Second})
	testenv.Eventually(t, 20*time.Second, "2 calls up", func() bool { st, _ := gw.Stats(); return st.Created >= 2 })
	testenv.Eventually(t, 20*time.Second, "2 calls connected", func() bool { return journaled(t, p) >= 2 })
	p.signal(syscall.SIGTERM)
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	if st, err := caller.Wait(ctx); err != nil || st.Successful != 2 {
		t.Fatalf("callers did not get their BYE: %s %v", st, err)
	}
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, r := range p.records(t, 2) {
		if r["disconnect_reason"] != "shutdown" || r["released_by"] != "switch" {
			t.Errorf("record = %v", r)
		}
	}
}
