package cdr

import (
	"bytes"
	stdjson "encoding/json"
	"testing"

	"github.com/goccy/go-json"
)

// TestJSONIsEncodingJSON: records, journal entries and spooled records are
// encoded with goccy/go-json for speed, but their bytes must stay exactly
// those of encoding/json — older Tollgates read the spool and journal after
// a downgrade, other nodes read a dead node's journal in a cluster, and
// jq-style tooling reads them by hand — and each library must read what the
// other wrote. A goccy upgrade that changes a byte fails here.
func TestJSONIsEncodingJSON(t *testing.T) {
	known := fullRecord(1)
	unknown := fullRecord(2)
	unknown.RTPAtoB, unknown.RTPBtoA, unknown.Attempts = RTPStats{}, RTPStats{}, nil
	for _, v := range []any{
		known, unknown, Record{},
		journalCall{Record: known, Accounting: stdjson.RawMessage(`[{"leg":"a","session":"<&>\u2028"}]`)},
		journalCall{Record: unknown},
	} {
		want, err := stdjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("goccy/go-json wrote\n%s\nencoding/json writes\n%s", got, want)
		}
		var fast, std journalCall
		if err := json.Unmarshal(want, &fast); err != nil {
			t.Fatal(err)
		}
		if err := stdjson.Unmarshal(want, &std); err != nil {
			t.Fatal(err)
		}
		a, _ := stdjson.Marshal(fast)
		b, _ := stdjson.Marshal(std)
		if !bytes.Equal(a, b) {
			t.Fatalf("goccy/go-json read\n%s\nencoding/json reads\n%s", a, b)
		}
	}
}
