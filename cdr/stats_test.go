package cdr

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestStatsBy: the hourly rollup that the CDR inserts keep up to date
// gives per-gateway (per attempt), per-route and per-account figures; a
// replayed batch (the writer's ON CONFLICT path) counts each CDR once, and
// a range counts the whole hours it overlaps.
func TestStatsBy(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	hour := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

	answered := fullRecord(1) // gw-a 503, then gw-b answered: 60.25 s, PDD 1.5 s
	busy := Record{ID: testID(2), SetupTime: hour.Add(2 * time.Minute), Route: "4420", Account: "acct-7",
		Gateway: "gw-a", Attempts: []Attempt{{Gateway: "gw-a", SIPCode: 486, Ringing: true}},
		PostDialDelay: 800 * time.Millisecond, SIPCode: 486, DisconnectReason: ReasonBusy}
	failed := Record{ID: testID(3), SetupTime: hour.Add(3 * time.Minute), Route: "4420", Account: "acct-9",
		Gateway: "gw-a", Attempts: []Attempt{{Gateway: "gw-a", SIPCode: 503}}, SIPCode: 503, DisconnectReason: ReasonFailed}
	rejected := Record{ID: testID(4), SetupTime: hour.Add(4 * time.Minute), SIPCode: 403, DisconnectReason: ReasonRejected}
	late := fullRecord(5)
	late.SetupTime = hour.Add(90 * time.Minute)
	late.Attempts = late.Attempts[1:]

	// Calls of earlier days, for a range over whole days and parts of days.
	earlier := func(i int, at time.Time) Record {
		return Record{ID: testID(i), SetupTime: at, Gateway: "gw-c", Attempts: []Attempt{{Gateway: "gw-c", SIPCode: 503}}, SIPCode: 503}
	}
	day := hour.Truncate(24 * time.Hour) // 2026-11-22 00:00
	w := NewPGWriter(db)
	if err := w.Write(ctx, []Record{answered, busy, failed, rejected,
		earlier(6, day.Add(-24*time.Hour-30*time.Minute)), earlier(7, day.Add(-9*time.Hour)), earlier(8, day.Add(-25*time.Hour-30*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	// A replay with one new record takes the staged path: only the new one counts.
	if err := w.Write(ctx, []Record{answered, late}); err != nil {
		t.Fatal(err)
	}

	type want struct {
		name                    string
		attempts, answered      int64
		asr, ner, acd, pdd, erl float64
	}
	check := func(g Grouping, from, to time.Time, wants ...want) {
		t.Helper()
		got, err := StatsBy(ctx, db, g, from, to, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(wants) {
			t.Fatalf("by %s: %d groups %+v, want %d", g, len(got), got, len(wants))
		}
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
		for i, w := range wants {
			s := got[i]
			if s.Name != w.name || s.Attempts != w.attempts || s.Answered != w.answered || !near(s.ASR, w.asr) ||
				!near(s.NER, w.ner) || !near(s.ACD, w.acd) || !near(s.PDD, w.pdd) || !near(s.Erlangs, w.erl) {
				t.Errorf("by %s, #%d: %+v, want %+v", g, i, s, w)
			}
		}
	}
	oneHour := hour.Add(time.Hour)
	check(ByGateway, hour, oneHour,
		want{name: "gw-a", attempts: 3, ner: 100.0 / 3, pdd: 800},
		want{name: "gw-b", attempts: 1, answered: 1, asr: 100, ner: 100, acd: 60.25, pdd: 1500, erl: 60250.0 / 3600000})
	check(ByRoute, hour, oneHour,
		want{name: "4420", attempts: 3, answered: 1, asr: 100.0 / 3, ner: 200.0 / 3, acd: 60.25, pdd: 1150, erl: 60250.0 / 3600000})
	check(ByAccount, hour, oneHour,
		want{name: "acct-7", attempts: 2, answered: 1, asr: 50, ner: 100, acd: 60.25, pdd: 1150, erl: 60250.0 / 3600000},
		want{name: "acct-9", attempts: 1})
	// 10:15 to 11:05 covers the hours 10:00 and 11:00, the late call's.
	check(ByGateway, hour.Add(15*time.Minute), hour.Add(65*time.Minute),
		want{name: "gw-a", attempts: 3, ner: 100.0 / 3, pdd: 800},
		want{name: "gw-b", attempts: 2, answered: 2, asr: 100, ner: 100, acd: 60.25, pdd: 1500, erl: 2 * 60250.0 / 7200000})
	check(ByRoute, hour.Add(-time.Hour), hour)
	// 2026-11-20 23:00 to 11-22 11:00: the whole day 11-21 from the daily
	// rollup, an hour before it and 11 hours after it from the hourly one.
	// The call of 11-20 22:30 is outside.
	check(ByGateway, day.Add(-25*time.Hour), hour.Add(time.Hour),
		want{name: "gw-a", attempts: 3, ner: 100.0 / 3, pdd: 800},
		want{name: "gw-c", attempts: 2},
		want{name: "gw-b", attempts: 1, answered: 1, asr: 100, ner: 100, acd: 60.25, pdd: 1500, erl: 60250.0 / (36 * 3600000)})
	check(ByGateway, day.Add(-26*time.Hour), day.Add(-24*time.Hour), want{name: "gw-c", attempts: 2})

	if _, err := StatsBy(ctx, db, "caller", hour, oneHour, 10); err == nil {
		t.Error("statistics by an unknown grouping: no error")
	}
	if _, err := StatsBy(ctx, db, ByRoute, oneHour, hour, 10); err == nil {
		t.Error("statistics over a reversed range: no error")
	}
}

// hourlyFromCDRs and failuresFromCDRs are what Hourly and Failures were
// before the rollup: the aggregates of the CDRs set up since $1 (hours in
// UTC, ties in code order), which their answers must equal. The scale
// benchmark times them beside Hourly and Failures.
const (
	hourlyFromCDRs = `
		SELECT date_trunc('hour', setup_time, 'UTC') AS h, count(*),
		       count(*) FILTER (WHERE connect_time IS NOT NULL),
		       coalesce(avg(duration_ms) FILTER (WHERE connect_time IS NOT NULL), 0)::float8,
		       coalesce(avg(post_dial_delay_ms) FILTER (WHERE post_dial_delay_ms > 0), 0)::float8,
		       coalesce(sum(billed_seconds), 0)
		FROM cdrs WHERE setup_time >= $1 GROUP BY h ORDER BY h`
	failuresFromCDRs = `
		SELECT sip_code, min(sip_reason), count(*) FROM cdrs
		WHERE setup_time >= $1 AND connect_time IS NULL
		GROUP BY sip_code ORDER BY count(*) DESC, sip_code LIMIT $2`
)

// TestDashboardFromRollups: the dashboard's hourly figures and failures by
// SIP code, read from cdr_codes_hourly and the partial hour's CDRs, are
// those of the aggregates over the CDRs that they replace, for windows
// starting on and between hours: calls set up before an hour's end and
// connected or ended after it count in their setup hour, as in the other
// rollups; a replayed batch counts once; unanswered calls with several
// codes and reason phrases, and a 200 that never connected, are failures.
func TestDashboardFromRollups(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(19, 2026))
	failures := []struct {
		code   int
		reason string
	}{{486, "Busy Here"}, {480, "Temporarily Unavailable"}, {503, "Service Unavailable"}, {503, "Overloaded"},
		{404, "Not Found"}, {487, "Request Terminated"}, {0, ""}}
	var recs []Record
	for i := range 600 {
		setup := start.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).Truncate(time.Millisecond)
		r := Record{ID: testID(1000 + i), SetupTime: setup, DisconnectReason: ReasonFailed}
		if rng.IntN(4) > 0 {
			r.PostDialDelay = time.Duration(100+rng.IntN(3000)) * time.Millisecond
		}
		if rng.IntN(10) < 4 {
			r.SIPCode, r.SIPReason, r.DisconnectReason = 200, "OK", ReasonNormal
			r.ConnectTime = setup.Add(r.PostDialDelay + 2*time.Second)
			r.Duration = time.Duration(rng.Int64N(int64(90 * time.Minute))).Truncate(time.Millisecond)
			r.BilledSeconds = int((r.Duration + time.Second - 1) / time.Second)
		} else {
			// Unequal shares, so the most frequent codes are clear.
			f := failures[min(rng.IntN(12), len(failures)-1)]
			r.SIPCode, r.SIPReason = f.code, f.reason
		}
		r.DisconnectTime = setup.Add(r.PostDialDelay + 2*time.Second + r.Duration)
		recs = append(recs, r)
	}
	// Set up a minute before an hour, connected for 40 minutes past it.
	spanning := Record{ID: testID(2000), SetupTime: start.Add(4*time.Hour - time.Minute), PostDialDelay: time.Second,
		ConnectTime: start.Add(4*time.Hour - 50*time.Second), Duration: 40 * time.Minute, BilledSeconds: 2400,
		DisconnectTime: start.Add(4*time.Hour + 39*time.Minute + 10*time.Second), SIPCode: 200, SIPReason: "OK",
		DisconnectReason: ReasonNormal}
	// A 200 that never connected (the ACK never came) is a failure; after
	// its hour, code 200 has answered calls only and is no failure.
	unconnected := Record{ID: testID(2002), SetupTime: start.Add(2*time.Hour + 10*time.Minute), SIPCode: 200,
		SIPReason: "OK", DisconnectReason: ReasonFailed}
	recs = append(recs, spanning, unconnected)
	w := NewPGWriter(db)
	for lo := 0; lo < len(recs); lo += 250 {
		if err := w.Write(ctx, recs[lo:min(lo+250, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	// A replay with one new record takes the staged path: only the new one counts.
	late := Record{ID: testID(2001), SetupTime: start.Add(5*time.Hour + 10*time.Minute), SIPCode: 486,
		SIPReason: "Busy Here", DisconnectReason: ReasonBusy}
	if err := w.Write(ctx, append(recs[:100:100], late)); err != nil {
		t.Fatal(err)
	}

	for _, from := range []time.Time{
		start.Add(-time.Hour),                   // every call
		start.Add(4 * time.Hour),                // on the hour after the spanning call's setup
		start.Add(4*time.Hour - 90*time.Second), // in its setup hour, before it: it comes from the CDRs
		start.Add(11*time.Hour + 17*time.Minute + 23*time.Second + 450*time.Millisecond),
		start.Add(29*time.Hour + 30*time.Minute), // the last half hour
		start.Add(31 * time.Hour),                // after every call
	} {
		for _, limit := range []int{3, 10} {
			if _, err := dashboardDiff(ctx, db, from, limit); err != nil {
				t.Error(err)
			}
		}
	}
	got, err := Hourly(ctx, db, start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 || !got[0].At.Equal(start.Add(3*time.Hour)) || got[0].BilledSeconds < int64(spanning.BilledSeconds) {
		t.Errorf("the spanning call is not in its setup hour: %+v", got)
	}
	if _, err := Failures(ctx, db, start, 0); err == nil {
		t.Error("failures with limit 0: no error")
	}
}

// dashboardDiff compares Hourly and Failures (the limit most frequent)
// since from with hourlyFromCDRs and failuresFromCDRs: the first
// difference, or the hours compared.
func dashboardDiff(ctx context.Context, db Querier, from time.Time, limit int) (int, error) {
	got, err := Hourly(ctx, db, from)
	if err != nil {
		return 0, err
	}
	rows, err := db.Query(ctx, hourlyFromCDRs, queryMode, from)
	if err != nil {
		return 0, err
	}
	want, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HourStats, error) {
		var h HourStats
		err := row.Scan(&h.At, &h.Calls, &h.Answered, &h.MeanDurationMs, &h.MeanPostDialDelay, &h.BilledSeconds)
		h.At = h.At.UTC()
		return h, err
	})
	if err != nil {
		return 0, err
	}
	if len(got) != len(want) {
		return 0, fmt.Errorf("from %v: %d hours, want %d", from, len(got), len(want))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	for i, g := range got {
		w := want[i]
		if !g.At.Equal(w.At) || g.Calls != w.Calls || g.Answered != w.Answered || g.BilledSeconds != w.BilledSeconds ||
			!near(g.MeanDurationMs, w.MeanDurationMs) || !near(g.MeanPostDialDelay, w.MeanPostDialDelay) {
			return 0, fmt.Errorf("from %v, hour %d: %+v, want %+v", from, i, g, w)
		}
	}
	gotF, err := Failures(ctx, db, from, limit)
	if err != nil {
		return 0, err
	}
	rows, err = db.Query(ctx, failuresFromCDRs, queryMode, from, limit)
	if err != nil {
		return 0, err
	}
	wantF, err := pgx.CollectRows(rows, pgx.RowToStructByPos[FailureCount])
	if err != nil {
		return 0, err
	}
	if !slices.Equal(gotF, wantF) {
		return 0, fmt.Errorf("from %v, failures (%d): %+v, want %+v", from, limit, gotF, wantF)
	}
	return len(got), nil
}
