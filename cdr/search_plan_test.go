package cdr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestGatewayCallerSearchTestsCallerInIndex: a search by gateway and
// caller prefix, newest first, tests the prefix on the entries of the
// gateway's index (an Index Cond) rather than on each call read from the
// table, which is what kept it at seconds on 100 million rows
// when the matching calls were old (migration 00018). The planner is held
// off sequential scans, which a table this small would otherwise get.
func TestGatewayCallerSearchTestsCallerInIndex(t *testing.T) {
	t.Parallel()
	pool := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	var recs []Record
	for i := range 200 {
		recs = append(recs, Record{ID: testID(5000 + i), SetupTime: start.Add(time.Duration(i) * time.Minute),
			CallerNumber: fmt.Sprintf("4420%04d", i), Gateway: fmt.Sprintf("gw-%d", i%4), SIPCode: 200})
	}
	if err := NewPGWriter(pool).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	f := Filter{From: start, To: start.Add(24 * time.Hour), Gateway: "gw-1", CallerPrefix: "442000"}
	got, _, err := Search(ctx, pool, f, Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	// Callers 4420 0000 to 4420 0099, every fourth on gw-1: 25, newest first.
	if len(got) != 25 || got[0].CallerNumber != "44200097" || got[24].CallerNumber != "44200001" {
		var callers []string
		for _, r := range got {
			callers = append(callers, r.CallerNumber)
		}
		t.Fatalf("gateway and caller search: %d calls %v", len(got), callers)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range []string{"ANALYZE cdrs", "SET enable_seqscan = off", "SET enable_bitmapscan = off"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	where, args := f.where()
	rows, err := conn.Query(ctx, "EXPLAIN SELECT id FROM cdrs WHERE "+where+" ORDER BY setup_time DESC, id DESC LIMIT 51", args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	// The LIKE stays as a recheck (Filter) of the rows the index
	// condition lets through; what matters is that the prefix's range is
	// an index condition beside the gateway's.
	var cond bool
	for _, l := range plan {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Index Cond:") && strings.Contains(l, "gateway") && strings.Contains(l, "caller_number ~>=~") {
			cond = true
		}
	}
	if !cond {
		t.Fatalf("no index condition on gateway and caller prefix:\n%s", text)
	}
}

// TestAccountTotalsReadOneNamesRollups: the totals of one account's search
// read that account's rollup rows by name (migration 00020), not every
// name's rows of the range tested one by one.
func TestAccountTotalsReadOneNamesRollups(t *testing.T) {
	t.Parallel()
	pool := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	var recs []Record
	for i := range 300 {
		recs = append(recs, Record{ID: testID(7000 + i), SetupTime: start.Add(time.Duration(i) * 17 * time.Minute),
			Account: fmt.Sprintf("acct-%d", i%30), SIPCode: 200})
	}
	if err := NewPGWriter(pool).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	f := Filter{Account: "acct-7", From: start.Add(90 * time.Minute), To: start.Add(80 * time.Hour)}
	sql, args, err := f.totalsQuery(ctx, pool, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range []string{"ANALYZE cdr_stats_hourly", "ANALYZE cdr_stats_daily", "SET enable_seqscan = off", "SET enable_bitmapscan = off"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	for _, idx := range []string{"cdr_stats_hourly_by_name", "cdr_stats_daily_by_name"} {
		if !strings.Contains(text, idx) {
			t.Errorf("one account's totals do not read %s:\n%s", idx, text)
		}
	}
}
