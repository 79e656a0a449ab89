package cdr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

func openJournal(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func connectedRecord(i int) Record {
	r := fullRecord(i)
	r.DisconnectTime, r.Duration, r.BilledSeconds, r.DisconnectReason, r.ReleasedBy = time.Time{}, 0, 0, "", ""
	r.ConnectTime = time.Now().Add(-time.Minute).Truncate(time.Millisecond).UTC()
	return r
}

func TestJournalRecoversConnectedCalls(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openJournal(t, dir)
	if got := records(j.Recover()); len(got) != 0 {
		t.Fatalf("fresh journal recovered %d calls", len(got))
	}
	for i := range 3 {
		if err := j.Connected(new(connectedRecord(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Ended(testID(1)); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Millisecond)
	if err := j.Touch(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	// The process dies here: nothing closes j.

	j2 := openJournal(t, dir)
	got := records(j2.Recover())
	sort.Slice(got, func(a, b int) bool { return got[a].ID < got[b].ID })
	if len(got) != 2 || got[0].ID != testID(0) || got[1].ID != testID(2) {
		t.Fatalf("recovered %v, want calls 0 and 2", ids(got))
	}
	for _, r := range got {
		if r.DisconnectReason != ReasonCrashed || r.ReleasedBy != ReleasedBySwitch {
			t.Errorf("%s: reason %q released by %q", r.ID, r.DisconnectReason, r.ReleasedBy)
		}
		if r.DisconnectTime.Before(before) || r.DisconnectTime.After(after) {
			t.Errorf("%s: disconnect %v, want the last touch in [%v, %v]", r.ID, r.DisconnectTime, before, after)
		}
		if r.Duration != r.DisconnectTime.Sub(r.ConnectTime) || r.BilledSeconds < 60 {
			t.Errorf("%s: duration %v billed %d", r.ID, r.Duration, r.BilledSeconds)
		}
		if r.CallerName != fullRecord(0).CallerName {
			t.Errorf("%s: caller name %q lost", r.ID, r.CallerName)
		}
	}

	// Dies again before the orphans are spooled: their end time must not
	// move to this second process's touches, which must come at a later
	// millisecond (the journal's resolution) for a move to show.
	testenv.Eventually(t, time.Second, "the clock past the recovered disconnect time", func() bool {
		return time.Now().Truncate(time.Millisecond).After(got[0].DisconnectTime)
	})
	if err := j2.Touch(); err != nil {
		t.Fatal(err)
	}
	j3 := openJournal(t, dir)
	again := records(j3.Recover())
	sort.Slice(again, func(a, b int) bool { return again[a].ID < again[b].ID })
	if len(again) != 2 || !again[0].DisconnectTime.Equal(got[0].DisconnectTime) {
		t.Fatalf("second recovery %+v", again)
	}
	for _, r := range again {
		if err := j3.Ended(r.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Ended waits for no fsync of its own: the next commit carries it.
	if err := j3.Touch(); err != nil {
		t.Fatal(err)
	}
	if got := records(openJournal(t, dir).Recover()); len(got) != 0 {
		t.Fatalf("ended orphans came back: %v", ids(got))
	}
}

func TestJournalCompacts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openJournal(t, dir)
	if err := j.Connected(new(connectedRecord(0)), nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 1500; i++ {
		if err := j.Connected(new(connectedRecord(i)), nil); err != nil {
			t.Fatal(err)
		}
		if err := j.Ended(testID(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Touch(); err != nil {
		t.Fatal(err)
	}
	// The compactor runs beside the flushes: the log shrinks soon after.
	testenv.Eventually(t, 10*time.Second, "the journal compacted", func() bool {
		fi, err := os.Stat(filepath.Join(dir, journalName))
		return err == nil && fi.Size() <= 2*journalCompactMin
	})
	got := records(openJournal(t, dir).Recover())
	if len(got) != 1 || got[0].ID != testID(0) {
		t.Fatalf("after compaction recovered %v", ids(got))
	}
}

// Ended costs no fsync of its own; Close makes what it left durable.
func TestJournalEndedIsFlushedByClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Connected(new(connectedRecord(0)), nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Ended(testID(0)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := records(openJournal(t, dir).Recover()); len(got) != 0 {
		t.Fatalf("an ended call came back after a clean close: %v", ids(got))
	}
}

// records are the recovered calls' records.
func records(orphans []Orphan) []Record {
	out := make([]Record, len(orphans))
	for i, o := range orphans {
		out[i] = o.Record
	}
	return out
}

// TestJournalKeepsCallsInSetup: calls noted at setup (written, not synced)
// come back after a crash of the process with their accounting sessions,
// unanswered; a call that connected comes back connected; one that ended
// does not come back.
func TestJournalKeepsCallsInSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openJournal(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Run(ctx, time.Hour)
	for i := range 3 {
		r := fullRecord(i)
		r.ConnectTime, r.DisconnectTime, r.DisconnectReason = time.Time{}, time.Time{}, ""
		if err := j.Setup(&r, json.RawMessage(fmt.Sprintf(`[{"leg":%d}]`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Ended(testID(1)); err != nil {
		t.Fatal(err)
	}
	if err := j.Setup(new(fullRecord(3)), nil); err != nil { // the one Ended leaves to the next write
		t.Fatal(err)
	}
	if err := j.Connected(new(connectedRecord(2)), json.RawMessage(`[{"leg":2},{"leg":22}]`)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "setup entries written out", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, journalName))
		return bytes.Contains(b, []byte(testID(3)))
	})
	// The process dies here: nothing closes j.

	got := openJournal(t, dir).Recover()
	sort.Slice(got, func(a, b int) bool { return got[a].Record.ID < got[b].Record.ID })
	if len(got) != 3 || got[0].Record.ID != testID(0) || got[1].Record.ID != testID(2) || got[2].Record.ID != testID(3) {
		t.Fatalf("recovered %v, want calls 0, 2 and 3", ids(records(got)))
	}
	if r := got[0].Record; !r.ConnectTime.IsZero() || r.Duration != 0 || r.DisconnectReason != ReasonCrashed {
		t.Errorf("call in setup recovered as %+v", r)
	}
	if string(got[0].Accounting) != `[{"leg":0}]` || string(got[1].Accounting) != `[{"leg":2},{"leg":22}]` {
		t.Errorf("accounting sessions %s and %s", got[0].Accounting, got[1].Accounting)
	}
	if got[1].Record.ConnectTime.IsZero() {
		t.Errorf("connected call recovered unanswered")
	}
}

// TestJournalWritesOnlyANewerSetup: a call noted in setup again before its
// entry was written (the INVITE, then its first attempt) is written once,
// as last noted; a call connected or ended before its setup entry was
// written gets no setup entry at all. Recovery sees the same calls either
// way.
func TestJournalWritesOnlyANewerSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openJournal(t, dir) // no Run: setup entries move only with later entries
	inSetup := func(i int, gateway string) Record {
		r := fullRecord(i)
		r.ConnectTime, r.DisconnectTime, r.DisconnectReason, r.Gateway = time.Time{}, time.Time{}, "", gateway
		return r
	}
	setup := func(i int, gateway string) {
		t.Helper()
		if err := j.Setup(new(inSetup(i, gateway)), nil); err != nil {
			t.Fatal(err)
		}
	}
	setup(0, "first")
	setup(1, "first")
	setup(1, "second")
	setup(2, "first")
	setup(2, "second")
	if err := j.Connected(new(connectedRecord(0)), nil); err != nil { // writes 1 and 2 as last noted
		t.Fatal(err)
	}
	setup(3, "first")
	if err := j.Ended(testID(3)); err != nil {
		t.Fatal(err)
	}
	if err := j.Touch(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		t.Fatal(err)
	}
	var setups []string
	scanFrames(data, func(f frame) {
		if len(f.payload) > 0 && f.payload[0] == entrySetup {
			var c journalCall
			if err := json.Unmarshal(f.payload[1:], &c); err != nil {
				t.Fatal(err)
			}
			setups = append(setups, fmt.Sprint(c.ID[len(c.ID)-1:], "@", c.Gateway))
		}
	})
	if fmt.Sprint(setups) != "[1@second 2@second]" {
		t.Fatalf("setup entries written %v, want [1@second 2@second]", setups)
	}
	// The process dies here: nothing closes j.
	got := openJournal(t, dir).Recover()
	sort.Slice(got, func(a, b int) bool { return got[a].Record.ID < got[b].Record.ID })
	if len(got) != 3 || got[0].Record.ID != testID(0) || got[0].Record.ConnectTime.IsZero() ||
		got[1].Record.Gateway != "second" || got[2].Record.Gateway != "second" {
		t.Fatalf("recovered %+v, want call 0 connected, 1 and 2 in setup at their second gateway", records(got))
	}
}

// A journal entry leaves out the record's zero fields; read back, it must
// still be the record it was made from, zero fields and all, and a call
// just connected must cost the live set a fifth less than its full JSON.
func TestJournalEntryKeepsTheRecord(t *testing.T) {
	t.Parallel()
	live := connectedRecord(4)
	live.Q850Cause, live.CreditGranted, live.MediaRelay = 0, 0, ""
	live.RTPAtoB, live.RTPBtoA, live.RADIUS = RTPStats{}, RTPStats{}, RADIUS{ReturnCode: -1}
	live.Attempts = live.Attempts[1:]
	empty := Record{ID: testID(5), Attempts: []Attempt{}}
	for _, rec := range []Record{fullRecord(3), live, empty} {
		acct := json.RawMessage(`[{"leg":"a","session":"x"}]`)
		p, err := appendEntry(nil, entryConnected, &rec, acct)
		if err != nil {
			t.Fatal(err)
		}
		var got journalCall
		if err := json.Unmarshal(p[1:], &got); err != nil {
			t.Fatalf("%s: %v in %s", rec.ID, err, p)
		}
		want, _ := json.Marshal(rec)
		back, _ := json.Marshal(got.Record)
		if !bytes.Equal(back, want) || string(got.Accounting) != string(acct) {
			t.Errorf("%s: read back as\n%s\n%s\nwant\n%s", rec.ID, back, got.Accounting, want)
		}
		if rec.ID == live.ID && len(p) > len(want)*4/5 {
			t.Errorf("a connected call's entry is %d bytes for a record of %d: %s", len(p), len(want), p)
		}
	}
}

// TestJournalReadsTheLogOfTheVersionBefore: a log written by the journal
// before it kept the live set in the log alone (testdata/journal-1fab758:
// calls 0-5 set up, 1, 2 and 4 connected, 0 and 2 ended, then the process
// died) recovers the same calls, and again after this version rewrote it.
func TestJournalReadsTheLogOfTheVersionBefore(t *testing.T) {
	t.Parallel()
	old, err := os.ReadFile(filepath.Join("testdata", "journal-1fab758", journalName))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, journalName), old, 0o640); err != nil {
		t.Fatal(err)
	}
	check := func(orphans []Orphan) time.Time {
		t.Helper()
		sort.Slice(orphans, func(a, b int) bool { return orphans[a].Record.ID < orphans[b].Record.ID })
		if got := ids(records(orphans)); fmt.Sprint(got) != fmt.Sprint([]string{testID(1), testID(3), testID(4), testID(5)}) {
			t.Fatalf("recovered %v, want calls 1, 3, 4 and 5", got)
		}
		end := orphans[0].Record.DisconnectTime
		for _, o := range orphans {
			r := o.Record
			connected := r.ID == testID(1) || r.ID == testID(4)
			if connected != !r.ConnectTime.IsZero() || r.DisconnectReason != ReasonCrashed ||
				!r.DisconnectTime.Equal(end) || r.CallerName != fullRecord(0).CallerName || len(r.Attempts) != 2 {
				t.Errorf("recovered %+v", r)
			}
			want := `[{"leg":"answer"},{"leg":"originate"}]`
			if !connected {
				want = fmt.Sprintf(`[{"leg":"answer","n":%s}]`, r.ID[len(r.ID)-1:])
			}
			if string(o.Accounting) != want {
				t.Errorf("%s: accounting %s, want %s", r.ID, o.Accounting, want)
			}
		}
		return end
	}
	end := check(openJournal(t, dir).Recover())
	if again := check(openJournal(t, dir).Recover()); !again.Equal(end) {
		t.Fatalf("second recovery ends the calls at %v, the first at %v", again, end)
	}
}

// TestJournalCompactsBesideTheFlushes: calls set up, connect and end from
// many goroutines while the log is compacted again and again; what a
// crash then leaves is exactly the calls still up, each as last noted.
func TestJournalCompactsBesideTheFlushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := openJournal(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Run(ctx, time.Hour)
	const calls, workers = 6000, 16
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				for i := w; i < calls; i += workers {
					setup := connectedRecord(i)
					setup.ConnectTime, setup.Gateway = time.Time{}, "first"
					if err := j.Setup(&setup, nil); err != nil {
						return err
					}
					if i%10 == 0 { // stays in setup
						continue
					}
					if err := j.Connected(new(connectedRecord(i)), json.RawMessage(fmt.Sprintf(`[{"n":%d}]`, i))); err != nil {
						return err
					}
					if i%10 != 1 { // stays connected
						if err := j.Ended(testID(i)); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Touch(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "setup entries written out", func() bool { return j.Connections() == calls/5 })
	// The log opened with a touch, sequence number 1; a compaction keeps
	// only calls' entries and ends with a touch of its own.
	data, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := decodeFrame(data); err != nil || f.seq == 1 {
		t.Fatalf("the log of %d bytes starts with frame %d (%v): never compacted", len(data), f.seq, err)
	}
	// The process dies here: nothing closes j.
	got := openJournal(t, dir).Recover()
	if len(got) != calls/5 {
		t.Fatalf("recovered %d calls, want %d", len(got), calls/5)
	}
	for _, o := range got {
		var i int
		fmt.Sscanf(o.Record.ID[len(o.Record.ID)-12:], "%x", &i)
		switch {
		case i%10 == 0 && (!o.Record.ConnectTime.IsZero() || o.Record.Gateway != "first" || o.Accounting != nil):
			t.Errorf("call %d in setup recovered as %+v %s", i, o.Record, o.Accounting)
		case i%10 == 1 && (o.Record.ConnectTime.IsZero() || string(o.Accounting) != fmt.Sprintf(`[{"n":%d}]`, i)):
			t.Errorf("connected call %d recovered as %+v %s", i, o.Record, o.Accounting)
		case i%10 > 1:
			t.Errorf("ended call %d recovered", i)
		}
	}
}
