package cdr

import (
	"context"
	"math"
	"testing"
	"time"

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
