package cdr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has
	"unicode/utf8"
	"unsafe"

	"github.com/goccy/go-json"
)

// zone loads a named time zone or fails the test.
func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// variedRecords are records the tail must hand over exactly as the file
// reads: every field the hand-written encoder writes, awkward strings,
// times with monotonic readings and in all sorts of zones, unknown figures
// with values, no attempts and empty attempts. unusual are ones it leaves
// to the file; refused are ones Append must refuse (the encoder falls back
// to json.Marshal for them, which fails).
func variedRecords(t testing.TB) (usual, unusual, refused []Record) {
	paris, kolkata := zone(t, "Europe/Paris"), zone(t, "Asia/Kolkata")
	edit := func(i int, f func(r *Record)) Record {
		r := fullRecord(i)
		f(&r)
		return r
	}
	usual = []Record{
		fullRecord(1),
		{ID: testID(2), SetupTime: time.Now()},
		edit(3, func(r *Record) {
			now := time.Now()
			r.SetupTime, r.ConnectTime, r.DisconnectTime = now, now.Add(time.Second), now.In(time.Local)
			r.Attempts[0].Start, r.Attempts[1].End = now.In(paris), now.UTC()
		}),
		edit(4, func(r *Record) {
			r.SetupTime = time.Date(2026, 7, 1, 12, 0, 0, 5, paris)        // summer
			r.RingingTime = time.Date(2026, 1, 1, 12, 0, 0, 999, paris)    // winter
			r.ConnectTime = time.Date(2026, 3, 29, 2, 30, 0, 0, paris)     // the hour that is not
			r.DisconnectTime = time.Date(2026, 10, 25, 2, 30, 0, 0, paris) // the hour that is twice
			r.Attempts[0].Start = r.SetupTime.In(kolkata)
			r.Attempts[0].End = r.SetupTime.In(time.FixedZone("", -(23*3600 + 59*60)))
			r.Attempts[1].Start = r.SetupTime.In(time.FixedZone("CET", 3600))
			r.Attempts[1].End = r.SetupTime.In(time.FixedZone("UTC", 0))
		}),
		edit(5, func(r *Record) {
			r.CallerName = "<b>&amp;</b> \u2028\u2029 \x00\x1f\b\f\t\r\n \"\\ é 東京 🎉 \ufffd"
			r.UserAgentB, r.Node = "", "node-\u00e9"
			r.Attempts = []Attempt{}
			r.RingingTime, r.ConnectTime = time.Time{}, time.Time{}.In(time.FixedZone("", 3600))
		}),
		edit(6, func(r *Record) {
			r.Attempts = nil
			r.RTPAtoB = RTPStats{Packets: Maybe[uint64]{V: 3}, Jitter: Maybe[time.Duration]{V: -1}, MOS: Maybe[float64]{V: math.Copysign(0, -1)}}
			r.RTPBtoA = RTPStats{MOS: Maybe[float64]{V: 1e21, Known: true}, Jitter: KnownDuration(-1), Lost: Known(math.MaxUint64), Bytes: Known(0)}
		}),
		edit(7, func(r *Record) {
			r.RTPAtoB.MOS = Maybe[float64]{V: 1.5e-7, Known: true}
			r.RTPBtoA.MOS = Maybe[float64]{V: math.Copysign(0, -1), Known: true}
			r.RTPBtoA.RTT = Maybe[time.Duration]{V: 7}
			r.RADIUS = RADIUS{Auth: AuthUnavailable, AuthMethod: AuthByDigest, Server: "192.0.2.1:1812", ReturnCode: -1, Latency: time.Second, AcctStarts: 2, AcctInterims: 3, AcctStops: 2, AcctQueued: 9}
			r.Duration, r.CreditGranted, r.Q850Cause, r.SourcePort = -5, math.MaxInt64, -1, 65535
		}),
	}
	unusual = []Record{
		edit(20, func(r *Record) { r.CallerName = "bad \xff\xfe utf-8" }),
		edit(21, func(r *Record) { r.Attempts[1].SIPReason = "\xc3" }),
		edit(22, func(r *Record) { r.DisconnectTime = r.DisconnectTime.In(time.FixedZone("", 3600+30)) }),
		edit(23, func(r *Record) { r.SetupTime = time.Date(1850, 1, 1, 0, 0, 0, 0, paris) }), // local mean time, +00:09:21
		edit(24, func(r *Record) { r.RingingTime = time.Time{}.In(paris) }),
	}
	refused = []Record{
		edit(40, func(r *Record) { r.ConnectTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		edit(41, func(r *Record) { r.Attempts[0].End = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }),
		edit(42, func(r *Record) { r.SetupTime = r.SetupTime.In(time.FixedZone("", 24*3600)) }),
		edit(43, func(r *Record) { r.RTPAtoB.MOS = Maybe[float64]{V: math.NaN(), Known: true} }),
		edit(44, func(r *Record) { r.RTPBtoA.MOS = Maybe[float64]{V: math.Inf(1), Known: true} }),
	}
	return usual, unusual, refused
}

// appendAll appends recs, checks that Append left each as it was, then
// scribbles over what the caller still holds of them (their attempts): the
// spool must have taken copies.
func appendAll(t *testing.T, s *Spool, recs []Record) {
	t.Helper()
	for _, r := range recs {
		before := r
		before.Attempts = slices.Clone(r.Attempts)
		if err := s.Append(&r); err != nil {
			t.Fatalf("append %s: %v", r.ID, err)
		}
		if !reflect.DeepEqual(r, before) {
			t.Fatalf("append %s changed the caller's record:\n got %#v\nwant %#v", r.ID, r, before)
		}
		for i := range r.Attempts {
			r.Attempts[i].Gateway, r.Attempts[i].Start = "scribbled", time.Now()
		}
	}
}

// next reads every record spooled now, committing none.
func next(t *testing.T, s *Spool, want int) []Record {
	t.Helper()
	var got []Record
	for len(got) < want {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := s.Next(ctx, want-len(got))
		cancel()
		if err != nil {
			t.Fatalf("Next after %d of %d records: %v", len(got), want, err)
		}
		got = append(got, b.Records...)
	}
	return got
}

// tailed says whether got, which the consumer has, was taken from the
// tail rather than decoded from the file: the tail's copy shares the
// appended record's strings, decoding makes new ones.
func tailed(got, appended Record) bool {
	return unsafe.StringData(got.ID) == unsafe.StringData(appended.ID)
}

// allTailed checks that every record in got was taken from the tail, or
// (tail false) that none was.
func allTailed(t *testing.T, what string, got, appended []Record, tail bool) {
	t.Helper()
	for i := range got {
		if tailed(got[i], appended[i]) != tail {
			t.Fatalf("%s: record %d (%s) taken from the tail: %v, want %v", what, i, appended[i].ID, !tail, tail)
		}
	}
}

func sameRecords(t *testing.T, what string, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s: record %d (%s)\n got %#v\nwant %#v", what, i, want[i].ID, got[i], want[i])
		}
	}
}

// The consumer takes the records from the tail exactly as a spool opened
// afterwards on the same directory decodes them from the file. Records
// the tail leaves to the file come from the file then, and ones Append
// refuses come from neither.
func TestSpoolTailIsTheFile(t *testing.T) {
	t.Parallel()
	usual, unusual, refused := variedRecords(t)
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	appendAll(t, s, usual)
	fromTail := next(t, s, len(usual))
	allTailed(t, "usual records", fromTail, usual, true)
	for _, r := range refused {
		if err := s.Append(&r); err == nil {
			t.Fatalf("spooled %s, which cannot be encoded", r.ID)
		}
	}
	appendAll(t, s, unusual)
	fromBoth := next(t, s, len(unusual))
	allTailed(t, "unusual records", fromBoth, unusual, false)
	s.Close()

	fromFile := next(t, openSpool(t, dir, SpoolOptions{}), len(usual)+len(unusual))
	sameRecords(t, "taken from the tail", fromTail, fromFile[:len(usual)])
	sameRecords(t, "the tail leaves to the file", fromBoth, fromFile[len(usual):])
}

// The same in a zone that is not UTC, as many switches run: times then
// read back in Local (or a fixed zone), not UTC. The test binary runs
// again with TZ set, since Local is read once at start.
func TestSpoolTailIsTheFileInAnotherZone(t *testing.T) {
	t.Parallel()
	if _, offset := time.Now().Zone(); offset != 0 {
		t.Skip("already in a zone that is not UTC")
	}
	tests := "^(TestSpoolTailIsTheFile|TestAsDecodedIsDecoding|FuzzAsDecoded)$"
	cmd := exec.Command(os.Args[0], "-test.run", tests, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "TZ=Europe/Paris")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in Europe/Paris: %v\n%s", err, out)
	}
	for _, name := range []string{"TestSpoolTailIsTheFile", "TestAsDecodedIsDecoding", "FuzzAsDecoded"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Fatalf("in Europe/Paris, %s did not pass:\n%s", name, out)
		}
	}
}

// checkAsDecoded checks that asDecoded and decodedAttempts give what
// decoding rec's frame gives, whenever tailable says they can, and
// reports whether they can.
func checkAsDecoded(t *testing.T, what string, rec Record) bool {
	t.Helper()
	payload, err := encodeRecord(nil, &rec)
	if err != nil {
		return false // never spooled
	}
	var want Record
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !tailable(&rec) {
		return false
	}
	got := rec
	got.Attempts = decodedAttempts(rec.Attempts)
	asDecoded(&got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: asDecoded\n got %#v\nwant %#v (decoded)", what, got, want)
	}
	return true
}

// asDecoded turns every field of a Record into what decoding gives, or
// says it cannot: each field in turn holds values that do not decode as
// themselves. A field of a kind this test does not know fails it, so that
// a new one is taught to asDecoded (and here) before it can slip through.
func TestAsDecodedIsDecoding(t *testing.T) {
	t.Parallel()
	usual, unusual, refused := variedRecords(t)
	for _, r := range usual {
		if !checkAsDecoded(t, r.ID, r) {
			t.Errorf("asDecoded leaves %s to the file", r.ID)
		}
	}
	for _, r := range append(unusual, refused...) {
		if checkAsDecoded(t, r.ID, r) {
			t.Errorf("asDecoded takes %s, which it cannot", r.ID)
		}
	}
	paris := zone(t, "Europe/Paris")
	leaves := 0
	var walk func(path []int, name string, typ reflect.Type)
	walk = func(path []int, name string, typ reflect.Type) {
		set := func(what string, v any) {
			rec := fullRecord(1)
			rec.Attempts = slices.Clone(rec.Attempts)
			field := reflect.ValueOf(&rec).Elem()
			for _, i := range path {
				if field.Kind() == reflect.Slice {
					field = field.Index(0)
				}
				field = field.Field(i)
			}
			field.Set(reflect.ValueOf(v).Convert(field.Type()))
			checkAsDecoded(t, name+" "+what, rec)
		}
		switch {
		case typ == reflect.TypeFor[time.Time]():
			leaves++
			set("now", time.Now())
			set("in Paris", time.Date(2026, 7, 1, 12, 0, 0, 5, paris))
			set("at +01:00:30", time.Date(2026, 7, 1, 12, 0, 0, 5, time.FixedZone("", 3630)))
			return
		case typ.Kind() == reflect.Struct && strings.HasPrefix(typ.Name(), "Maybe["):
			leaves++
			unknown := reflect.New(typ).Elem()
			unknown.Field(0).Set(reflect.ValueOf(7).Convert(typ.Field(0).Type))
			set("unknown with a value", unknown.Interface())
			return
		}
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(append(slices.Clone(path), i), name+"."+typ.Field(i).Name, typ.Field(i).Type)
			}
		case reflect.Slice:
			if typ.Elem().Kind() != reflect.Struct {
				t.Fatalf("Record.%s is a %s: teach asDecoded what decoding makes of it", name, typ)
			}
			walk(path, name+"[0]", typ.Elem())
		case reflect.String:
			leaves++
			set("invalid UTF-8", "bad \xff")
			set("escaped", "\u2028<&>\"\\\x01")
		case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Bool:
			leaves++
		default:
			t.Fatalf("Record.%s is a %s: teach asDecoded what decoding makes of it", name, typ)
		}
	}
	walk(nil, "Record", reflect.TypeFor[Record]())
	if leaves < 60 {
		t.Fatalf("walked %d fields of Record", leaves)
	}
}

// FuzzAsDecoded: whatever the strings, times, zones and figures,
// asDecoded gives what decoding gives, and takes every record whose
// strings are UTF-8 and whose zones are whole minutes.
func FuzzAsDecoded(f *testing.F) {
	f.Add("O'Brien <\"Zoë\">", int64(1764000000123456789), 3600, 4.36, uint64(3000), true)
	f.Add("\xff\u2028", int64(0), -(23*3600 + 59*60), 0.0, uint64(0), false)
	f.Add("", int64(-62135596800000000), 30, 1e-7, uint64(1), true)
	f.Fuzz(func(t *testing.T, name string, unixNS int64, offset int, mos float64, packets uint64, known bool) {
		rec := fullRecord(1)
		rec.CallerName, rec.Attempts[0].CallID = name, name
		rec.SetupTime = time.Unix(0, unixNS)
		rec.ConnectTime = rec.SetupTime.In(time.FixedZone("", offset%(24*3600)))
		rec.Attempts[1].End = rec.SetupTime.UTC()
		rec.RTPAtoB.MOS = Maybe[float64]{V: mos, Known: known}
		rec.RTPBtoA = RTPStats{Packets: Maybe[uint64]{V: packets, Known: known}}
		_, encodeErr := encodeRecord(nil, &rec)
		_, localOffset := rec.SetupTime.Zone()
		if !checkAsDecoded(t, "fuzzed", rec) && encodeErr == nil && utf8.ValidString(name) && offset%60 == 0 && localOffset%60 == 0 {
			t.Errorf("asDecoded leaves to the file a record with UTF-8 strings and zones of whole minutes")
		}
	})
}

// A consumer further behind than the tail holds reads the rest from the
// file, and still gets every record once, in order; the tail holds no
// more than its bound meanwhile, and nothing once the consumer has it.
func TestSpoolTailLaggingConsumer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		bound func(s *Spool)
	}{
		{"records", func(s *Spool) { s.tail.maxRecords = 8 }},
		{"bytes", func(s *Spool) { s.tail.maxBytes = 5000 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := openSpool(t, t.TempDir(), SpoolOptions{SegmentSize: 16 << 10})
			c.bound(s)
			var appended []Record
			for i := range 40 {
				appended = append(appended, fullRecord(i))
			}
			appendAll(t, s, appended)
			s.mu.Lock()
			held, bytes := s.tail.n, s.tail.bytes
			s.mu.Unlock()
			if held == 0 || held > 8 || bytes > 5000 && c.name == "bytes" {
				t.Fatalf("the tail holds %d records (%d bytes) after 40 unread", held, bytes)
			}
			var got []Record
			for len(got) < len(appended) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				b, err := s.Next(ctx, 3)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b.Records...)
				if err := s.Commit(b); err != nil {
					t.Fatal(err)
				}
			}
			var want []Record
			for i := range appended {
				want = append(want, fullRecord(i)) // appendAll scribbled on the attempts
			}
			sameRecords(t, "behind the tail", got, want)
			allTailed(t, "the tail's", got[:held], appended[:held], true)
			allTailed(t, "the file's", got[held:], appended[held:], false)
			checkTailEmpty(t, s)

			// Caught up, the consumer takes new records from the tail.
			appended = []Record{fullRecord(100), fullRecord(101)}
			appendAll(t, s, appended)
			got = next(t, s, 2)
			if !reflect.DeepEqual(ids(got), []string{testID(100), testID(101)}) {
				t.Fatalf("caught up, got %v", ids(got))
			}
			allTailed(t, "caught up", got, appended, true)
			checkTailEmpty(t, s)
		})
	}
}

// checkTailEmpty checks that the tail keeps no record alive.
func checkTailEmpty(t *testing.T, s *Spool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tail.n != 0 || s.tail.bytes != 0 {
		t.Fatalf("the tail holds %d records (%d bytes) the consumer has", s.tail.n, s.tail.bytes)
	}
	for i, r := range s.tail.ring {
		if !reflect.ValueOf(r).IsZero() {
			t.Fatalf("the tail's place %d still holds record %s", i, r.rec.ID)
		}
	}
}

// Appenders and a consumer that falls behind and catches up again, over
// many segments: every record once, each appender's in its order.
func TestSpoolTailConcurrentLaggingConsumer(t *testing.T) {
	t.Parallel()
	s := openSpool(t, t.TempDir(), SpoolOptions{SegmentSize: 8 << 10})
	s.tail.maxRecords = 16
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Append(new(fullRecord(w*each + i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	var got []Record
	for batches := 0; len(got) < writers*each; batches++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := s.Next(ctx, 1+batches%25)
		cancel()
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(got), err)
		}
		got = append(got, b.Records...)
		if err := s.Commit(b); err != nil {
			t.Fatal(err)
		}
		if batches%10 == 0 {
			time.Sleep(5 * time.Millisecond) // fall behind the tail for a while
		}
	}
	wg.Wait()
	last := map[int]int{}
	for _, r := range got {
		var n int
		fmt.Sscanf(r.ID[24:], "%x", &n)
		w := n / each
		if seen, ok := last[w]; ok && n <= seen {
			t.Fatalf("appender %d's record %d after its record %d", w, n, seen)
		}
		last[w] = n
	}
	if len(got) != writers*each || len(last) != writers {
		t.Fatalf("%d records from %d appenders, want %d from %d", len(got), len(last), writers*each, writers)
	}
	if st := s.Stats(); st.Depth != 0 {
		t.Fatalf("depth %d after all shipped", st.Depth)
	}
	checkTailEmpty(t, s)
}

// The tail runs across segments: records of several segments come in one
// batch, from memory, and the shipped segments are deleted.
func TestSpoolTailAcrossSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentSize: 4096})
	var want []string
	for round := range 3 {
		var appended []Record
		for i := range 10 {
			want = append(want, testID(round*10+i))
			appended = append(appended, fullRecord(round*10+i))
			appendAll(t, s, appended[i:])
		}
		if st := s.Stats(); st.Segments < 3 {
			t.Fatalf("10 records in %d segments", st.Segments)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := s.Next(ctx, 100)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(b.Records); !reflect.DeepEqual(got, want[round*10:]) {
			t.Fatalf("round %d: got %v, want %v", round, got, want[round*10:])
		}
		allTailed(t, fmt.Sprint("round ", round), b.Records, appended, true)
		if err := s.Commit(b); err != nil {
			t.Fatal(err)
		}
		segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
		if len(segs) > 2 {
			t.Fatalf("round %d: %d segment files left after shipping everything", round, len(segs))
		}
	}
	checkTailEmpty(t, s)
}

// A consumer that took records from the tail and did not commit them all
// gets the rest from the file after a restart, once, and then new records
// from the tail again.
func TestSpoolTailReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	for i := range 10 {
		appendAll(t, s, []Record{fullRecord(i)})
	}
	ctx := context.Background()
	b, err := s.Next(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx, 3); err != nil { // not committed: it comes back
		t.Fatal(err)
	}
	s.Close()

	s = openSpool(t, dir, SpoolOptions{})
	for i := 10; i < 15; i++ {
		appendAll(t, s, []Record{fullRecord(i)})
	}
	var want []string
	for i := 4; i < 15; i++ {
		want = append(want, testID(i))
	}
	if got := ids(drain(t, s)); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen got %v, want %v", got, want)
	}
	appended := []Record{fullRecord(15)}
	appendAll(t, s, appended)
	got := drain(t, s)
	if !reflect.DeepEqual(ids(got), []string{testID(15)}) {
		t.Fatalf("then got %v", ids(got))
	}
	allTailed(t, "after reopen", got, appended, true)
	checkTailEmpty(t, s)
}

// The segment being written is reclaimed once shipped and big enough, when
// its records come from the tail as when they came from the file.
func TestSpoolTailReclaimsTheActiveSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	first, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	const n = 120 // some 150 kB, past reclaimSize
	for i := range n {
		appended := []Record{fullRecord(i)}
		appendAll(t, s, appended)
		if i == 0 {
			first, _ = filepath.Glob(filepath.Join(dir, "seg-*"))
		}
		got := drain(t, s)
		if len(got) != 1 {
			t.Fatalf("drained %d records, want 1", len(got))
		}
		allTailed(t, "shipped", got, appended, true)
	}
	if len(first) != 1 {
		t.Fatalf("segment files after the first record: %v", first)
	}
	if _, err := os.Stat(first[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the first segment, shipped, is still there (%v)", err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if st := s.Stats(); len(segs) > 1 || st.Bytes > reclaimSize {
		t.Fatalf("after shipping %d records: %d segment files, %d bytes", n, len(segs), st.Bytes)
	}
}
