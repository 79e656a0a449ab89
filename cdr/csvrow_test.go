package cdr

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// referenceRow is what a CDR's CSV row was before csvRows: its cells as
// strings, written by encoding/csv. csvRows must write the same bytes.
func referenceRow(rec Record) []byte {
	text := func(c string) string {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			return "'" + c
		}
		return c
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(csvTime)
	}
	attempts, _ := json.Marshal(cleanAttempts(rec.Attempts))
	itoa := strconv.Itoa
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	u64 := func(m Maybe[uint64]) string {
		if !m.Known {
			return ""
		}
		return strconv.FormatUint(m.V, 10)
	}
	us := func(m Maybe[time.Duration]) string {
		if !m.Known {
			return ""
		}
		return i64(m.V.Microseconds())
	}
	mos := func(m Maybe[float64]) string {
		if !m.Known {
			return ""
		}
		return strconv.FormatFloat(m.V, 'f', 2, 64)
	}
	row := []string{
		rec.ID, text(rec.ConfID), text(rec.CallIDA), text(rec.CallIDB),
		text(rec.CallerNumber), text(rec.CallerName), text(rec.CalledReceived), text(rec.CalledSent),
		text(rec.SourceIP), itoa(rec.SourcePort), text(rec.Account), text(rec.Route), text(rec.Gateway),
		itoa(len(rec.Attempts)), text(string(attempts)),
		at(rec.SetupTime), at(rec.RingingTime), at(rec.ConnectTime), at(rec.DisconnectTime),
		i64(ms(rec.Duration)), itoa(rec.BilledSeconds), i64(ms(rec.PostDialDelay)),
		itoa(rec.SIPCode), text(rec.SIPReason), itoa(rec.Q850Cause), text(rec.ReleasedBy), text(rec.DisconnectReason),
		i64(ms(rec.CreditGranted)), text(rec.CodecA), text(rec.CodecB), text(rec.MediaRelay),
		u64(rec.RTPAtoB.Packets), u64(rec.RTPAtoB.Bytes), u64(rec.RTPAtoB.Lost), us(rec.RTPAtoB.Jitter),
		u64(rec.RTPBtoA.Packets), u64(rec.RTPBtoA.Bytes), u64(rec.RTPBtoA.Lost), us(rec.RTPBtoA.Jitter),
		text(rec.UserAgentA), text(rec.UserAgentB),
		text(rec.RADIUS.Auth), text(rec.RADIUS.AuthMethod), text(rec.RADIUS.Server), itoa(rec.RADIUS.ReturnCode), i64(rec.RADIUS.Latency.Microseconds()),
		itoa(rec.RADIUS.AcctStarts), itoa(rec.RADIUS.AcctInterims), itoa(rec.RADIUS.AcctStops), itoa(rec.RADIUS.AcctQueued),
		text(rec.Node),
		us(rec.RTPAtoB.RTT), mos(rec.RTPAtoB.MOS), us(rec.RTPBtoA.RTT), mos(rec.RTPBtoA.MOS),
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write(row) //nolint:errcheck // a bytes.Buffer does not fail
	w.Flush()
	return buf.Bytes()
}

// checkCSVRow checks that csvRows writes rec's row as referenceRow does.
func checkCSVRow(t *testing.T, what string, rec Record) {
	t.Helper()
	var w csvRows
	w.row(&rec)
	if want := referenceRow(rec); !bytes.Equal(w.b, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, w.b, want)
	}
}

// csvRows writes encoding/csv's bytes for records with everything a cell
// can hold: what must be quoted, defused, cleaned, left out.
func TestCSVRowIsEncodingCSV(t *testing.T) {
	t.Parallel()
	for _, r := range specialRecords() {
		checkCSVRow(t, "special "+r.ID, r)
	}
	formula, _ := formulaRecord()
	checkCSVRow(t, "formulas", formula)
	checkCSVRow(t, "zero", Record{})
	odd := fullRecord(7)
	odd.ID = `\.`
	odd.ConfID = `\.`
	odd.CallIDA = "\u00a0non-breaking space first"
	odd.CallIDB = "\u3000ideographic space first"
	odd.CallerNumber = " space first"
	odd.CallerName = "\rcarriage\r\nreturns\n"
	odd.CalledSent = "\xffinvalid \x00 UTF-8"
	odd.Attempts[0].Gateway = "bad \xff gateway \x00"
	odd.Attempts[1].SIPReason = "<&> \u2028 \"q\""
	odd.RTPAtoB.MOS = Maybe[float64]{V: -1.005, Known: true}
	odd.RADIUS = RADIUS{Auth: AuthUnavailable, ReturnCode: -1, Latency: 1500 * time.Microsecond, AcctQueued: 3}
	odd.Node = "-node"
	checkCSVRow(t, "odd", odd)
	far := fullRecord(8)
	far.Attempts[0].End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	far.ConnectTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3630))
	checkCSVRow(t, "far", far)
}

// FuzzCSVRow: whatever the text of the fields a caller controls, csvRows
// writes the bytes encoding/csv wrote.
func FuzzCSVRow(f *testing.F) {
	f.Add("O'Brien, \"Zoë\"\r\n", "=1", " x", int64(1764000000123456789))
	f.Add("\xff\x00", `\.`, "\u0085", int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, name, number, reason string, unixNS int64) {
		rec := fullRecord(1)
		rec.ID, rec.CallerName, rec.CallerNumber, rec.SIPReason = name, name, number, reason
		rec.Attempts[0].CallID, rec.Attempts[1].SIPReason = name, reason
		rec.Attempts[0].Start = time.Unix(0, unixNS)
		rec.RingingTime = time.Unix(0, unixNS)
		checkCSVRow(t, "fuzzed", rec)
	})
}

// csvCells is rec's row, read back into cells.
func csvCells(t *testing.T, rec *Record) []string {
	t.Helper()
	var w csvRows
	w.row(rec)
	cells, err := csv.NewReader(bytes.NewReader(w.b)).Read()
	if err != nil {
		t.Fatal(err)
	}
	return cells
}

// BenchmarkCSVRow is one record's row.
func BenchmarkCSVRow(b *testing.B) {
	rec := fullRecord(1)
	var w csvRows
	b.ReportAllocs()
	for b.Loop() {
		w.b = w.b[:0]
		w.row(&rec)
	}
}
