package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// TestDashboardRange: the dashboard's time-range picker chooses the window
// of its CDR figures (tiles, hourly charts, failures), says which, and has
// the page's polling ask for the same; a range it does not offer is a 400
// naming the parameter.
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
	}{
		{"", "24h", "3", "24", true},
		{"?range=1h", "1h", "2", "1", false},
		{"?range=24h", "24h", "3", "24", true},
		{"?range=7d", "7d", "4", "168", true},
	} {
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
