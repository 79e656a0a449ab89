package cdr

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/migrations"
)

// migratedDB returns a pool on a fresh, migrated database of the package's
// shared cluster.
func migratedDB(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	db, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func allRows(t *testing.T, db Querier) []Record {
	t.Helper()
	var out []Record
	cursor := ""
	for {
		page, next, err := Search(context.Background(), db, Filter{}, Page{Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func TestPGWriterRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	full := fullRecord(1)
	sparse := Record{ID: testID(2), SetupTime: full.SetupTime, DisconnectTime: full.SetupTime.Add(time.Second),
		SIPCode: 486, SIPReason: "Busy Here", DisconnectReason: ReasonBusy, ReleasedBy: ReleasedByCallee}
	// Through rtpproxy: packets and loss counted (one way none at all),
	// bytes and jitter unknown. 0 and unknown must both survive.
	rtpproxied := fullRecord(4)
	rtpproxied.RTPAtoB = RTPStats{Packets: Known(250), Lost: Known(2)}
	rtpproxied.RTPBtoA = RTPStats{Packets: Known(0), Lost: Known(0)}
	w := NewPGWriter(db)
	ctx := context.Background()
	if err := w.Write(ctx, []Record{full, sparse, rtpproxied}); err != nil {
		t.Fatal(err)
	}
	var nullBytes, zeroPackets int
	if err := db.QueryRow(ctx, "SELECT count(*) FILTER (WHERE rtp_a_to_b_bytes IS NULL), count(*) FILTER (WHERE rtp_b_to_a_packets = 0) FROM cdrs").Scan(&nullBytes, &zeroPackets); err != nil {
		t.Fatal(err)
	}
	if nullBytes != 2 || zeroPackets != 1 {
		t.Errorf("%d rows with NULL bytes (want 2: no relay, rtpproxy), %d with 0 packets (want 1)", nullBytes, zeroPackets)
	}
	// Written again (a replay): nothing doubles, the first write wins.
	changed := full
	changed.CallerName = "replayed"
	if err := w.Write(ctx, []Record{changed, sparse, sparse}); err != nil {
		t.Fatal(err)
	}
	got := allRows(t, db)
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	if !reflect.DeepEqual(got[0], full) {
		t.Errorf("full record changed on the way:\n got %+v\nwant %+v", got[0], full)
	}
	if !reflect.DeepEqual(got[1], sparse) {
		t.Errorf("sparse record changed on the way:\n got %+v\nwant %+v", got[1], sparse)
	}
	if !reflect.DeepEqual(got[2], rtpproxied) {
		t.Errorf("rtpproxy record changed on the way:\n got %+v\nwant %+v", got[2], rtpproxied)
	}
}

func TestPGWriterStoresUnstorableText(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	r := fullRecord(3)
	r.CallerName = "nul\x00byte and bad utf8 \xff\xfe"
	r.Attempts[0].SIPReason = "nul\x00"
	if err := NewPGWriter(db).Write(context.Background(), []Record{r}); err != nil {
		t.Fatalf("a CDR with NUL and invalid UTF-8 must still be stored: %v", err)
	}
	got := allRows(t, db)
	if got[0].CallerName != "nulbyte and bad utf8 \uFFFD" || got[0].Attempts[0].SIPReason != "nul" {
		t.Fatalf("stored %q / %q", got[0].CallerName, got[0].Attempts[0].SIPReason)
	}
}

// TestShipperSurvivesPostgresOutage appends 1,000 CDRs while PostgreSQL is
// stopped, restarts it, and checks every CDR is present exactly once.
func TestShipperSurvivesPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	db := migratedDB(t, pg.DSN())
	sp := openSpool(t, t.TempDir(), SpoolOptions{SegmentSize: 256 << 10})
	sh := NewShipper(sp, NewPGWriter(db), ShipperOptions{BatchSize: 100, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	const total = 1000
	var wg sync.WaitGroup
	appendRange := func(from, to int) {
		for i := from; i < to; i++ {
			wg.Go(func() {
				if err := sp.Append(new(fullRecord(i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	appendRange(0, 200)
	testenv.Eventually(t, 2*time.Minute, "first 200 shipped", func() bool { return sp.Stats().Depth == 0 })

	pg.Stop()
	appendRange(200, total)
	testenv.Eventually(t, 2*time.Minute, "shipper to notice the outage", func() bool { return sh.Stats().State == ShipFailing })
	if d := sp.Stats().Depth; d == 0 {
		t.Fatal("spool empty while PostgreSQL is down")
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "spool to drain after restart", func() bool { return sp.Stats().Depth == 0 })

	var n, distinct int
	row := db.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT id) FROM cdrs")
	if err := row.Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != total || distinct != total {
		t.Fatalf("%d rows (%d distinct), want %d", n, distinct, total)
	}
	if st := sh.Stats(); st.State != ShipOK || st.Failures == 0 || st.Shipped < total {
		t.Fatalf("shipper stats %+v", st)
	}
}

func TestSearchFiltersAndPages(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	var recs []Record
	for i := range 30 {
		r := fullRecord(i)
		r.Account = fmt.Sprintf("acct-%d", i%3)
		r.CallerNumber = fmt.Sprintf("44_%d", i) // the underscore must not be a wildcard
		if i == 7 {
			r.CallerNumber = "44x7"
		}
		recs = append(recs, r)
	}
	if err := NewPGWriter(db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func(f Filter) int {
		t.Helper()
		var n int
		cursor := ""
		for {
			page, next, err := Search(ctx, db, f, Page{Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(page); i++ {
				if !page[i].SetupTime.Before(page[i-1].SetupTime) {
					t.Fatalf("page not newest first")
				}
			}
			n += len(page)
			if next == "" {
				return n
			}
			cursor = next
		}
	}
	base := recs[0].SetupTime
	cases := []struct {
		name string
		f    Filter
		want int
	}{
		{"all", Filter{}, 30},
		{"time range", Filter{From: base.Add(10 * time.Second), To: base.Add(20 * time.Second)}, 10},
		{"account", Filter{Account: "acct-1"}, 10},
		{"caller prefix literal underscore", Filter{CallerPrefix: "44_"}, 29},
		{"caller prefix", Filter{CallerPrefix: "44_1"}, 11},
		{"called prefix either form", Filter{CalledPrefix: "44207946"}, 30},
		{"gateway", Filter{Gateway: "gw-b"}, 30},
		{"sip code", Filter{SIPCode: 486}, 0},
		{"q850 cause", Filter{Q850Cause: 16}, 30},
		{"another q850 cause", Filter{Q850Cause: 17}, 0},
		{"call-id b leg", Filter{CallID: "b-5@tollgate"}, 1},
		{"conf-id", Filter{ConfID: recs[4].ConfID}, 1},
	}
	for _, c := range cases {
		if got := count(c.f); got != c.want {
			t.Errorf("%s: %d rows, want %d", c.name, got, c.want)
		}
	}
	if _, _, err := Search(ctx, db, Filter{}, Page{Cursor: "garbage"}); err == nil {
		t.Error("bad cursor accepted")
	}
}

// TestShipperReportsAHungDatabase locks the cdrs table: the write hangs
// without an error, and the shipper says so (ShipSlow, logged) while it
// hangs, then ships once the lock goes.
func TestShipperReportsAHungDatabase(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	sp := openSpool(t, t.TempDir(), SpoolOptions{})
	sh := NewShipper(sp, NewPGWriter(db), ShipperOptions{SlowWrite: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sh.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE cdrs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	if err := sp.Append(new(fullRecord(1))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the hung write seen as slow", func() bool { return sh.Stats().State == ShipSlow })
	if st := sh.Stats(); st.LastWrite < 200*time.Millisecond {
		t.Errorf("write in progress for %v", st.LastWrite)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "shipped once the lock is gone", func() bool {
		return sp.Stats().Depth == 0 && sh.Stats().State == ShipOK
	})
}
