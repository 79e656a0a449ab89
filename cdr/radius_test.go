package cdr

import (
	"bytes"
	"context"
	"encoding/csv"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// radiusRecords are a call RADIUS rejected, one it accepted and accounted,
// one whose Access-Request went unanswered, and one without RADIUS.
func radiusRecords() []Record {
	recs := []Record{fullRecord(21), fullRecord(22), fullRecord(23), fullRecord(24)}
	recs[0].RADIUS = RADIUS{Auth: AuthReject, AuthMethod: AuthByDigest, Server: "127.0.0.1:1812", ReturnCode: 4,
		Latency: 1234 * time.Microsecond}
	recs[1].RADIUS = RADIUS{Auth: AuthAccept, AuthMethod: AuthByIP, Server: "[::1]:1812", ReturnCode: 0,
		Latency: 850 * time.Microsecond, AcctStarts: 2, AcctInterims: 6, AcctStops: 3, AcctQueued: 17}
	recs[1].Node = "sw-2"
	recs[2].RADIUS = RADIUS{Auth: AuthError, AuthMethod: AuthByIP, ReturnCode: -1, Latency: 6 * time.Second}
	return recs
}

func TestRADIUSRoundTripsThroughPostgreSQLAndCSV(t *testing.T) {
	t.Parallel()
	db := migratedDB(t, testenv.SharedPostgres(t).NewDatabase(t))
	ctx := context.Background()
	want := radiusRecords()
	if err := NewPGWriter(db).Write(ctx, want); err != nil {
		t.Fatal(err)
	}
	f := Filter{From: want[0].SetupTime, To: want[3].SetupTime.Add(time.Millisecond)}
	got, _, err := Search(ctx, db, f, Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Search is newest first.
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PostgreSQL changed the records:\n got %+v\nwant %+v", got, want)
	}

	// The CSV export carries the same values in the appended columns.
	var buf bytes.Buffer
	if err := Export(ctx, db, f, &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want)+1 {
		t.Fatalf("%d CSV rows", len(rows))
	}
	at := map[string]int{}
	for i, c := range rows[0] {
		at[c] = i
	}
	if at["radius_auth"] != at["user_agent_b"]+1 || at["radius_acct_queued"] != at["node"]-1 || at["rtp_a_to_b_rtt_us"] != at["node"]+1 {
		t.Fatalf("RADIUS columns not appended after user_agent_b, node not after them, the quality columns not after node: %v", rows[0])
	}
	for i, row := range rows[1:] {
		cell := func(c string) string { return row[at[c]] }
		num := func(c string) int {
			n, err := strconv.Atoi(cell(c))
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			return n
		}
		r := RADIUS{Auth: cell("radius_auth"), AuthMethod: cell("radius_auth_method"), Server: cell("radius_server"),
			ReturnCode: num("radius_return_code"), Latency: time.Duration(num("radius_latency_us")) * time.Microsecond,
			AcctStarts: num("radius_acct_starts"), AcctInterims: num("radius_acct_interims"),
			AcctStops: num("radius_acct_stops"), AcctQueued: num("radius_acct_queued")}
		if r != want[i].RADIUS {
			t.Errorf("CSV row %d: %+v, want %+v", i, r, want[i].RADIUS)
		}
		if cell("node") != want[i].Node {
			t.Errorf("CSV row %d: node %q, want %q", i, cell("node"), want[i].Node)
		}
	}
}
