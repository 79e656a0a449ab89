package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// TestDashboardRange: the dashboard's time-range picker chooses the window
// of its CDR figures (tiles, hourly charts, failures, billed minutes),
// says which, and has the page's polling ask for the same; a range it does
// not offer is a 400 naming the parameter.
func TestDashboardRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Two calls in the last hour, one (busy) three hours ago, one three
	// days ago.
	recs := []cdr.Record{testRecord(1, now.Add(-10*time.Minute)), testRecord(2, now.Add(-20*time.Minute)),
		testRecord(3, now.Add(-3*time.Hour)), testRecord(4, now.Add(-72*time.Hour))}
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	for _, tc := range []struct {
		query, label, calls string
		hours               string
		busy                bool
		billed              int64 // seconds: 58 a call answered
	}{
		{"", "24h", "3", "24", true, 116},
		{"?range=1h", "1h", "2", "1", false, 116},
		{"?range=24h", "24h", "3", "24", true, 116},
		{"?range=7d", "7d", "4", "168", true, 174},
	} {
		// The API's figures for the same hours, from the hourly rollups
		// and the CDRs of the window's partial first hour.
		var st liveStats
		if err := json.Unmarshal([]byte(v.get("/api/v1/stats?hours="+tc.hours).body), &st); err != nil || st.CDR == nil {
			t.Fatalf("stats?hours=%s: %v", tc.hours, err)
		}
		var hourly int64
		for _, h := range st.CDR.Hourly {
			hourly += h.Calls
		}
		if calls := strconv.FormatInt(st.CDR.Calls, 10); calls != tc.calls || hourly != st.CDR.Calls ||
			math.Abs(st.CDR.Minutes-float64(tc.billed)/60) > 1e-9 || st.CDR.ACDSec != 58 {
			t.Errorf("stats?hours=%s: %d calls (%d by the hour), %.3f minutes, ACD %.1f s; want %s calls, %d s billed, ACD 58 s",
				tc.hours, st.CDR.Calls, hourly, st.CDR.Minutes, st.CDR.ACDSec, tc.calls, tc.billed)
		}
		page := v.get("/" + tc.query)
		if page.StatusCode != http.StatusOK {
			t.Fatalf("dashboard%s = %d", tc.query, page.StatusCode)
		}
		for _, want := range []string{
			`<option selected>` + tc.label + `</option>`, `data-hours="` + tc.hours + `"`,
			`Calls (` + tc.label + `)</div><div class="value" id="t-calls">` + tc.calls + `<`,
			`Failures by cause <span class="muted small">last ` + tc.label + `<`, `href="/stats?range=` + tc.label + `"`,
		} {
			if !strings.Contains(page.body, want) {
				t.Errorf("dashboard%s lacks %q", tc.query, want)
			}
		}
		if got := strings.Contains(page.body, "Busy Here"); got != tc.busy {
			t.Errorf("dashboard%s lists the busy call three hours ago: %v, want %v", tc.query, got, tc.busy)
		}
	}
	for _, bad := range []string{"2d", "30d", "24h\x00"} {
		if r := v.get("/?range=" + strings.ReplaceAll(bad, "\x00", "%00")); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "range: want 1h, 24h or 7d") {
			t.Errorf("dashboard ?range=%q = %d", bad, r.StatusCode)
		}
	}
}
