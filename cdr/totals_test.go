package cdr

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestSearchTotalsFromRollups: the totals of a search by time range, one
// account or one route are the same whether summed from the CDRs or from
// the rollups with the partial hours from the CDRs, for ranges on and off
// hour and day boundaries, open at either end, over a month's change; the
// rollups are really what is read (CDRs deleted behind the trigger's back
// are still counted), and not for the months retention dropped.
func TestSearchTotalsFromRollups(t *testing.T) {
	t.Parallel()
	pool := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	// 300 calls every 67 minutes from 2026-10-28: two weeks across the
	// end of October, some without an account or a route (refused before
	// routing), three in four answered.
	start := time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)
	var recs []Record
	for i := range 300 {
		r := Record{ID: testID(1000 + i), SetupTime: start.Add(time.Duration(i) * 67 * time.Minute),
			Account: fmt.Sprintf("acct-%d", i%3), Route: fmt.Sprintf("r%d", i%2), Gateway: fmt.Sprintf("gw-%d", i%2),
			SIPCode: 503, DisconnectReason: ReasonFailed}
		if i%7 == 0 {
			r.Account = ""
		}
		if i%5 == 0 {
			r.Route, r.Gateway = "", ""
		}
		if i%4 != 0 {
			r.ConnectTime = r.SetupTime.Add(2 * time.Second)
			r.Duration = time.Duration(i)*time.Second + 250*time.Millisecond
			r.SIPCode, r.DisconnectReason = 200, ReasonNormal
		}
		if r.Gateway != "" {
			r.Attempts = []Attempt{{Gateway: r.Gateway, SIPCode: r.SIPCode, Answered: r.SIPCode == 200}}
		}
		recs = append(recs, r)
	}
	if err := NewPGWriter(pool).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	raw := func(f Filter) Totals {
		t.Helper()
		where, args := f.where()
		var tot Totals
		var ms int64
		if err := pool.QueryRow(ctx, rawTotals+where, args...).Scan(&tot.Calls, &tot.Answered, &ms); err != nil {
			t.Fatal(err)
		}
		tot.Minutes = float64(ms) / 60000
		return tot
	}
	same := func(f Filter, want Totals) {
		t.Helper()
		got, err := SearchTotals(ctx, pool, f)
		if err != nil {
			t.Fatal(err)
		}
		if got.Calls != want.Calls || got.Answered != want.Answered || math.Abs(got.Minutes-want.Minutes) > 1e-9 {
			t.Errorf("totals of %+v: %d calls, %d answered, %.4f min; want %d, %d, %.4f",
				f, got.Calls, got.Answered, got.Minutes, want.Calls, want.Answered, want.Minutes)
		}
	}
	at := func(day, hour, min int) time.Time { return time.Date(2026, 10, day, hour, min, 0, 0, time.UTC) }
	filters := []Filter{
		{},
		{From: at(28, 5, 17), To: at(33, 22, 41)}, // days whole and partial, across the month's end
		{From: at(29, 0, 0), To: at(31, 0, 0)},    // whole days only
		{From: at(30, 3, 0), To: at(30, 9, 0)},    // whole hours only
		{From: at(30, 3, 10), To: at(30, 3, 50)},  // within an hour: no whole hour
		{From: at(33, 7, 30)},                     // open end
		{To: at(30, 12, 30)},                      // open start
		{From: at(1, 0, 0), To: at(29, 12, 0)},    // from before the oldest partition
		{Account: "acct-1", From: at(28, 9, 5), To: at(36, 1, 2)},
		{Account: "acct-2"},
		{Route: "r0", From: at(29, 23, 59)},
		{Account: "nobody", From: at(29, 0, 0), To: at(40, 0, 0)},
		{Gateway: "gw-1", From: at(28, 9, 5), To: at(36, 1, 2)}, // not a rollup key: the CDRs
		{Account: "acct-1", Route: "r1", From: at(28, 0, 0)},    // two keys: the CDRs
		{Account: "acct-1", SIPCode: 200, From: at(28, 0, 0)},   // not a rollup key: the CDRs
		{From: at(32, 0, 0), To: at(31, 0, 0)},                  // empty range
	}
	for _, f := range filters {
		same(f, raw(f))
	}
	if all := raw(Filter{}); all.Calls != 300 {
		t.Fatalf("raw totals count %d calls, want 300", all.Calls)
	}

	// Retention drops October: the rollups still hold its calls, the
	// totals must not.
	dropped, err := NewPartitions(pool, PartitionOptions{}).expire(ctx, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(dropped) != 1 {
		t.Fatalf("dropped %v, %v: want October", dropped, err)
	}
	for _, f := range []Filter{{}, {Account: "acct-0"}, {From: at(29, 0, 0), To: at(35, 12, 0)}, {Route: "r1", To: at(34, 0, 0)}} {
		same(f, raw(f))
	}

	// CDRs deleted by hand (the trigger does not subtract them) in whole
	// hours are still counted by a rollup search and no longer by the
	// others: proof of which is read.
	window := Filter{From: at(33, 0, 0), To: at(34, 0, 0)}
	before := raw(window)
	if _, err := pool.Exec(ctx, "DELETE FROM cdrs WHERE setup_time >= $1 AND setup_time < $2", at(33, 4, 0), at(33, 9, 0)); err != nil {
		t.Fatal(err)
	}
	if after := raw(window); after.Calls >= before.Calls {
		t.Fatalf("deleting five hours left %d of %d calls", after.Calls, before.Calls)
	}
	same(window, before)
	gw := Filter{Gateway: "gw-0", From: at(33, 0, 0), To: at(34, 0, 0)}
	same(gw, raw(gw))
}
