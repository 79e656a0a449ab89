package cdr

import (
	"bytes"
	stdjson "encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-json"
)

// The hand-written encoder must write exactly encoding/json's bytes, for
// the spool's records and for the journal's entries, or (for what it cannot
// write) hand over to encoding/json's rules: the two fail the same records.
func checkRecordJSON(t *testing.T, rec Record, accounting stdjson.RawMessage) {
	t.Helper()
	want, wantErr := stdjson.Marshal(rec)
	got, err := encodeRecord(nil, &rec)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) && wantErr == nil {
		t.Fatalf("spool record\n got %s (error %v)\nwant %s (error %v)", got, err, want, wantErr)
	}
	want, wantErr = stdjson.Marshal(journalEntry{journalRecord(rec), accounting})
	got, err = appendEntry(nil, entryConnected, &rec, accounting)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("journal entry: error %v, encoding/json's %v", err, wantErr)
	}
	if wantErr == nil && (len(got) == 0 || got[0] != entryConnected || !bytes.Equal(got[1:], want)) {
		t.Fatalf("journal entry\n got %s\nwant C%s", got, want)
	}
}

func TestRecordJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	acct := stdjson.RawMessage(`[{"leg":"answer","session_id":"A1B2C3D4 00000001 11223344 55667788","n":[1,2.5e-7,null,true]}]`)
	live := connectedRecord(7)
	live.RTPAtoB, live.RADIUS = RTPStats{}, RADIUS{ReturnCode: -1}
	odd := fullRecord(8)
	odd.CallerName = "<b>&amp;</b> \u2028\u2029 \x00\x1f\b\f\t\r\n \"\\ \xff\xfe é 東京 🎉"
	odd.Attempts = []Attempt{}
	odd.SetupTime = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("", -(23*3600+59*60)))
	odd.RTPAtoB = RTPStats{MOS: Maybe[float64]{V: math.Copysign(0, -1)}} // -0 with Known false: zero to omitzero
	odd.RTPBtoA = RTPStats{MOS: Maybe[float64]{V: 1e21, Known: true}, Jitter: KnownDuration(-1), Lost: Known(math.MaxUint64)}
	tiny := fullRecord(9)
	tiny.RTPAtoB.MOS = Maybe[float64]{V: 1.5e-7, Known: true}
	tiny.RTPBtoA.MOS = Maybe[float64]{V: -123456.789, Known: true}
	for _, c := range []struct {
		name string
		rec  Record
		acct stdjson.RawMessage
	}{
		{"full", fullRecord(1), acct},
		{"connected", live, acct},
		{"empty", Record{}, nil},
		{"odd strings, times and figures", odd, nil},
		{"tiny and negative MOS", tiny, stdjson.RawMessage(`{}`)},
	} {
		t.Run(c.name, func(t *testing.T) { checkRecordJSON(t, c.rec, c.acct) })
	}
	// What the hand-written path leaves to encoding/json: written the same,
	// or refused the same.
	for _, c := range []struct {
		name string
		edit func(r *Record, acct *stdjson.RawMessage)
	}{
		{"year 10000", func(r *Record, _ *stdjson.RawMessage) { r.ConnectTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year -1", func(r *Record, _ *stdjson.RawMessage) {
			r.Attempts[0].End = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		}},
		{"zone of a day", func(r *Record, _ *stdjson.RawMessage) {
			r.SetupTime = r.SetupTime.In(time.FixedZone("", 24*3600))
		}},
		{"NaN MOS", func(r *Record, _ *stdjson.RawMessage) { r.RTPAtoB.MOS = Maybe[float64]{V: math.NaN(), Known: true} }},
		{"infinite MOS", func(r *Record, _ *stdjson.RawMessage) { r.RTPBtoA.MOS = Maybe[float64]{V: math.Inf(-1), Known: true} }},
		{"accounting with spaces", func(_ *Record, a *stdjson.RawMessage) { *a = stdjson.RawMessage(" [ {\"a\" : \"b c\"} ]\n") }},
		{"accounting with HTML", func(_ *Record, a *stdjson.RawMessage) { *a = stdjson.RawMessage(`["<&>"]`) }},
		{"accounting with U+2028", func(_ *Record, a *stdjson.RawMessage) { *a = stdjson.RawMessage("[\"\u2028\"]") }},
		{"accounting not JSON", func(_ *Record, a *stdjson.RawMessage) { *a = stdjson.RawMessage(`[{"a":}]`) }},
		{"accounting two values", func(_ *Record, a *stdjson.RawMessage) { *a = stdjson.RawMessage(`[]{}`) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, a := fullRecord(3), acct
			c.edit(&rec, &a)
			checkRecordJSON(t, rec, a)
		})
	}
}

// FuzzRecordJSON: any strings, numbers, times and accounting JSON are
// written as encoding/json writes them.
func FuzzRecordJSON(f *testing.F) {
	f.Add("4420", "O'Brien <\"Zoë\">", "\xff\u2028", int64(0), int64(1764000000123456789), 4.36, uint64(3000), true, `[{"leg":"a"}]`)
	f.Add("", "", "", int64(-1), int64(0), 0.0, uint64(0), false, ``)
	f.Fuzz(func(t *testing.T, number, name, ua string, n, unixNS int64, mos float64, packets uint64, known bool, acct string) {
		rec := fullRecord(int(n % 1000))
		rec.CallerNumber, rec.CallerName, rec.UserAgentB = number, name, ua
		rec.SourcePort, rec.Duration, rec.Q850Cause = int(n), time.Duration(n), int(n>>7)
		rec.ConnectTime = time.Unix(0, unixNS).UTC()
		rec.DisconnectTime = time.Unix(0, unixNS).In(time.FixedZone("", int(n%(26*3600))))
		rec.RTPAtoB.MOS = Maybe[float64]{V: mos, Known: known}
		rec.RTPBtoA = RTPStats{Packets: Maybe[uint64]{V: packets, Known: known}}
		if strings.HasPrefix(number, "0") {
			rec.RTPBtoA, rec.RADIUS, rec.Attempts = RTPStats{}, RADIUS{}, nil
		}
		rec.Attempts = append(rec.Attempts, Attempt{Gateway: name, CallID: ua, Start: rec.DisconnectTime, Ringing: known})
		checkRecordJSON(t, rec, stdjson.RawMessage(acct))
	})
}

// BenchmarkRecordJSON is one record's encodings, by hand and by the
// reflective encoder it replaced (goccy/go-json, the fallback): the spool's
// full record and a connected call's journal entry.
func BenchmarkRecordJSON(b *testing.B) {
	full := fullRecord(1)
	live := journalCall{Record: connectedRecord(2), Accounting: stdjson.RawMessage(`[{"leg":"answer","session_id":"A1B2C3D4 00000002 11223344 55667788"}]`)}
	live.RTPAtoB, live.RTPBtoA, live.DisconnectReason = RTPStats{}, RTPStats{}, ReasonCrashed
	b.Run("spool/by-hand", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = encodeRecord(buf[:0], &full)
		}
	})
	b.Run("spool/reflective", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(full); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("journal/by-hand", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendEntry(buf[:0], entryConnected, &live.Record, live.Accounting); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("journal/reflective", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(journalEntry{journalRecord(live.Record), live.Accounting}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
