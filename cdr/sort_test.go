package cdr

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestSearchSorted: a search pages in the order of a whitelisted column,
// ties broken by setup time and id in the same direction, each page
// starting where the last ended; a cursor of another order is refused.
func TestSearchSorted(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var recs []Record
	for i := range 9 {
		recs = append(recs, Record{ID: testID(i + 1), SetupTime: base.Add(time.Duration(i) * time.Minute),
			CallerNumber: fmt.Sprintf("44%d", (i*5)%9), Duration: time.Duration(i%3) * time.Second, SIPCode: 200})
	}
	if err := NewPGWriter(db).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sort Sort
		less func(a, b Record) int
	}{
		{Sort{Key: "duration"}, func(a, b Record) int {
			return cmp.Or(-cmp.Compare(a.Duration, b.Duration), -a.SetupTime.Compare(b.SetupTime))
		}},
		{Sort{Key: "caller", Asc: true}, func(a, b Record) int {
			return cmp.Or(cmp.Compare(a.CallerNumber, b.CallerNumber), a.SetupTime.Compare(b.SetupTime))
		}},
		{Sort{Key: "setup", Asc: true}, func(a, b Record) int { return a.SetupTime.Compare(b.SetupTime) }},
		{Sort{}, func(a, b Record) int { return -a.SetupTime.Compare(b.SetupTime) }},
	} {
		want := slices.Clone(recs)
		slices.SortFunc(want, tc.less)
		var got []string
		cursor := ""
		for range len(recs) {
			page, next, err := Search(ctx, db, Filter{}, Page{Limit: 2, Cursor: cursor, Sort: tc.sort})
			if err != nil {
				t.Fatalf("%+v: %v", tc.sort, err)
			}
			for _, r := range page {
				got = append(got, r.ID)
			}
			if cursor = next; cursor == "" {
				break
			}
			if _, _, err := Search(ctx, db, Filter{}, Page{Limit: 2, Cursor: next, Sort: Sort{Key: "pdd"}}); err == nil {
				t.Errorf("%+v: a cursor used with another order was taken", tc.sort)
			}
		}
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("sorted by %+v:\n got %v\nwant %v", tc.sort, got, wantIDs)
		}
	}
	if _, _, err := Search(ctx, db, Filter{}, Page{Sort: Sort{Key: "duration_ms; DROP TABLE cdrs"}}); err == nil {
		t.Error("a sort outside the list was taken")
	}
}
