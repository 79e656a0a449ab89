package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/cdr"
)

// benchRows is the size of the CDR table of BenchmarkCDRSearchPage1M.
const benchRows = 1_000_000

// loadCDRs fills cdrs with n generated calls spread over 30 days, with COPY.
func loadCDRs(b *testing.B, e *env, n int) time.Time {
	ctx := context.Background()
	end := time.Now().UTC().Truncate(time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	cols := []string{"id", "call_id_a", "caller_number", "called_received", "called_sent", "account", "gateway",
		"route", "attempt_count", "setup_time", "connect_time", "disconnect_time", "duration_ms", "billed_seconds",
		"post_dial_delay_ms", "sip_code", "sip_reason", "disconnect_reason", "released_by"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		setup := end.Add(-time.Duration(i) * step)
		called := fmt.Sprintf("%d%09d", 30+i%60, (i*7919)%1_000_000_000)
		var connect, disc any = nil, setup.Add(20 * time.Second)
		code, reason, why, dur := 200, "OK", "normal", int64(0)
		switch i % 10 {
		case 0, 1, 2:
			code, reason, why = 486+i%2*17, "Busy Here", "busy"
		default:
			connect = setup.Add(3 * time.Second)
			dur = int64(i%600) * 1000
			disc = setup.Add(3*time.Second + time.Duration(dur)*time.Millisecond)
		}
		return []any{fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), fmt.Sprintf("%d@bench", i),
			fmt.Sprintf("1555%07d", i%10_000_000), called, called, fmt.Sprintf("acct%04d", i%2000),
			fmt.Sprintf("10.0.%d.%d:5060", i%4, i%50), "r", 1, setup, connect, disc, dur, dur / 1000,
			int64(200 + i%800), code, reason, why, "caller"}, nil
	})
	if err := cdr.NewPartitions(e.db, cdr.PartitionOptions{}).Ensure(ctx, end.Add(-time.Duration(n)*step), end); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := e.db.CopyFrom(ctx, pgx.Identifier{"cdrs"}, cols, src); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, "ANALYZE cdrs"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d CDRs with COPY in %v", n, time.Since(start).Round(time.Millisecond))
	return end
}

var benchEnv struct {
	e   *env
	v   *client
	end time.Time
}

// BenchmarkCDRSearchPage1M times the CDR search page, rendered through
// the whole handler chain (session, role, SQL, template) as a logged-in
// viewer, on one million CDRs, and the dashboard, whose statistics
// aggregate the last 24 hours of them. Run with:
//
//	go test ./web -run '^$' -bench CDRSearchPage1M -benchtime 50x
func BenchmarkCDRSearchPage1M(b *testing.B) {
	if benchEnv.e == nil {
		benchEnv.e = newEnv(b)
		benchEnv.end = loadCDRs(b, benchEnv.e, benchRows)
		benchEnv.v = benchEnv.e.login("viewer")
	}
	from := benchEnv.end.Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04")
	to := benchEnv.end.Format("2006-01-02T15:04")
	for _, q := range []struct{ name, query string }{
		{"all-newest", ""},
		{"called-prefix-week", "called=4412&from=" + from + "&to=" + to},
		{"account-week", "account=acct0042&from=" + from + "&to=" + to},
		{"code-486-week", "code=486&from=" + from + "&to=" + to},
		{"gateway-caller", "gateway=10.0.1.7:5060&caller=15550"},
		{"dashboard-24h", "dashboard"},
	} {
		path := "/cdrs?" + q.query
		if q.query == "dashboard" {
			path = "/"
		}
		b.Run(q.name, func(b *testing.B) {
			var slowest time.Duration
			for b.Loop() {
				start := time.Now()
				res := benchEnv.v.get(path)
				if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "</main>") {
					b.Fatalf("%d %.300s", res.StatusCode, res.body)
				}
				slowest = max(slowest, time.Since(start))
			}
			b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
		})
	}
}
