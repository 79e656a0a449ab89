package cdr

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tollgate/tollgate/internal/testenv"
)

// recordAt is a distinct record set up at t.
func recordAt(i int, t time.Time) Record {
	r := fullRecord(i)
	shift := t.Sub(r.SetupTime)
	r.SetupTime, r.RingingTime, r.ConnectTime, r.DisconnectTime = t, r.RingingTime.Add(shift), r.ConnectTime.Add(shift), r.DisconnectTime.Add(shift)
	for j := range r.Attempts {
		r.Attempts[j].Start, r.Attempts[j].End = r.Attempts[j].Start.Add(shift), r.Attempts[j].End.Add(shift)
	}
	return r
}

// partitionOf returns the partition each record id is stored in.
func partitionOf(t *testing.T, db *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT id::text, tableoid::regclass::text FROM cdrs")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, part string
		if err := rows.Scan(&id, &part); err != nil {
			t.Fatal(err)
		}
		out[id] = part
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func partitionNames(t *testing.T, p *Partitions) []string {
	t.Helper()
	have, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range have {
		names = append(names, h.Name)
	}
	return names
}

// TestPartitionedRowsLandInTheirMonth writes records on both sides of month
// and year boundaries (in UTC, whatever zone the time was given in), some in
// months made ahead and some in months with no partition yet: each lands in
// its month's partition, none is lost.
func TestPartitionedRowsLandInTheirMonth(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	parts := NewPartitions(db, PartitionOptions{Ahead: 1})
	now := time.Date(2031, 12, 15, 12, 0, 0, 0, time.UTC)
	if _, err := parts.Maintain(ctx, now); err != nil {
		t.Fatal(err)
	}
	names := partitionNames(t, parts)
	if !slices.Contains(names, "cdrs_y2031m12") || !slices.Contains(names, "cdrs_y2032m01") || slices.Contains(names, "cdrs_y2032m02") {
		t.Fatalf("after Maintain(%v) with 1 month ahead: %v", now, names)
	}
	// A bulk load's span: every month of it, the last one included.
	if err := parts.Ensure(ctx, time.Date(2035, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2036, 2, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	names = partitionNames(t, parts)
	for _, want := range []string{"cdrs_y2035m11", "cdrs_y2035m12", "cdrs_y2036m01", "cdrs_y2036m02"} {
		if !slices.Contains(names, want) {
			t.Errorf("Ensure did not make %s: %v", want, names)
		}
	}
	if slices.Contains(names, "cdrs_y2035m10") || slices.Contains(names, "cdrs_y2036m03") {
		t.Errorf("Ensure made months outside its span: %v", names)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2031, 12, 31, 23, 59, 59, 999e6, time.UTC), "cdrs_y2031m12"},
		{time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), "cdrs_y2032m01"},
		// 08:30 on 1 January in Tokyo is still December in UTC.
		{time.Date(2032, 1, 1, 8, 30, 0, 0, tokyo), "cdrs_y2031m12"},
		// Months with no partition: far ahead, and long past.
		{time.Date(2033, 7, 4, 10, 0, 0, 0, time.UTC), "cdrs_y2033m07"},
		{time.Date(2019, 2, 28, 23, 0, 0, 0, time.UTC), "cdrs_y2019m02"},
	}
	var recs []Record
	for i, c := range cases {
		recs = append(recs, recordAt(i, c.at))
	}
	if err := NewPGWriter(db).Write(ctx, recs); err != nil {
		t.Fatalf("a batch with months that have no partition: %v", err)
	}
	got := partitionOf(t, db)
	if len(got) != len(cases) {
		t.Fatalf("%d rows stored, want %d: %v", len(got), len(cases), got)
	}
	for i, c := range cases {
		if got[testID(i)] != c.want {
			t.Errorf("setup %v: in %q, want %q", c.at, got[testID(i)], c.want)
		}
	}
}

// TestPartitionedWriterExactlyOnce re-delivers spooled CDRs the way a crash
// between the database's commit and the spool's does: the batch is written,
// the process "dies" before the spool records it as shipped, and the next
// process's shipper writes it again — through the staging path, in months
// that already have a partition and one the first write had to make.
func TestPartitionedWriterExactlyOnce(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	dir := t.TempDir()
	sp, err := OpenSpool(dir, SpoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const total = 50
	months := []time.Time{
		time.Date(2030, 3, 31, 23, 59, 0, 0, time.UTC),
		time.Date(2030, 4, 1, 0, 0, 30, 0, time.UTC),
	}
	for i := range total {
		if err := sp.Append(new(recordAt(i, months[i%2].Add(time.Duration(i)*time.Millisecond)))); err != nil {
			t.Fatal(err)
		}
	}
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b, err := sp.Next(nctx, total)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	w := NewPGWriter(db)
	// Part of the batch reached the database before the crash.
	if err := w.Write(ctx, b.Records[:total/2]); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	sp = openSpool(t, dir, SpoolOptions{})
	if d := sp.Stats().Depth; d != total {
		t.Fatalf("after the crash the spool holds %d records, want all %d again", d, total)
	}
	sh := NewShipper(sp, w, ShipperOptions{})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sh.Run(sctx) }()
	testenv.Eventually(t, time.Minute, "the replayed spool to drain", func() bool { return sp.Stats().Depth == 0 })
	stop()
	<-done
	// And once more as a whole, as a second crash would.
	if err := w.Write(ctx, b.Records); err != nil {
		t.Fatal(err)
	}
	var n, distinct int
	if err := db.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM cdrs").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != total || distinct != total {
		t.Fatalf("%d rows (%d distinct ids), want %d", n, distinct, total)
	}
	perMonth := map[string]int{}
	for _, p := range partitionOf(t, db) {
		perMonth[p]++
	}
	if perMonth["cdrs_y2030m03"] != total/2 || perMonth["cdrs_y2030m04"] != total/2 {
		t.Fatalf("rows per partition %v", perMonth)
	}
}

// TestPartitionRetention drops the months past the retention and only
// those, tells of each drop once, and keeps every row of the months kept;
// a second node's round at the same time drops nothing twice.
func TestPartitionRetention(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	var recs []Record
	// One record mid-month and one in the month's last millisecond, from
	// January 2028 to June 2029.
	for m := range 18 {
		from := time.Date(2028, time.January+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		recs = append(recs, recordAt(2*m, from.AddDate(0, 0, 14)), recordAt(2*m+1, from.AddDate(0, 1, 0).Add(-time.Millisecond)))
	}
	if err := NewPGWriter(db).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var told []string
	opt := PartitionOptions{Retention: 6, Dropped: func(_ context.Context, p Partition) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, p.Name)
	}}
	// Two nodes' rounds on 1 July 2029: July and the six months before it
	// stay (January to June 2029), older ones go — the 2028 months, and
	// those the migration made around today.
	now := time.Date(2029, 7, 1, 0, 0, 0, 0, time.UTC)
	keepFrom := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	before, err := NewPartitions(db, opt).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wantDropped []string
	for _, p := range before {
		if p.From.Before(keepFrom) {
			wantDropped = append(wantDropped, p.Name)
		}
	}
	if len(wantDropped) < 12 {
		t.Fatalf("partitions before the round: %v", before)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := NewPartitions(db, opt).Maintain(ctx, now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(told)
	if !slices.Equal(told, wantDropped) {
		t.Fatalf("dropped %v, want %v", told, wantDropped)
	}
	names := partitionNames(t, NewPartitions(db, opt))
	for _, want := range []string{"cdrs_y2029m01", "cdrs_y2029m06", "cdrs_y2029m07", "cdrs_y2029m09"} {
		if !slices.Contains(names, want) {
			t.Errorf("partition %s missing: %v", want, names)
		}
	}
	for _, gone := range wantDropped {
		if slices.Contains(names, gone) {
			t.Errorf("partition %s still there", gone)
		}
	}
	got := partitionOf(t, db)
	if len(got) != 12 {
		t.Fatalf("%d rows kept, want the 12 of January to June 2029", len(got))
	}
	for i, r := range recs {
		_, kept := got[r.ID]
		if want := !r.SetupTime.Before(keepFrom); kept != want {
			t.Errorf("record %d set up %v: kept %v", i, r.SetupTime, kept)
		}
	}
	// Without a retention nothing goes.
	if dropped, err := NewPartitions(db, PartitionOptions{}).Maintain(ctx, now.AddDate(5, 0, 0)); err != nil || len(dropped) != 0 {
		t.Fatalf("no retention: dropped %v, %v", dropped, err)
	}
}
