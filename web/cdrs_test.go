package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// TestCDRCSVNeutralisesFormulas: a caller number chosen by whoever sent the
// INVITE reaches the spreadsheet as text, in the UI's and the API's export.
func TestCDRCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := testRecord(1, time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond))
	rec.CallerNumber = "=2+5"
	rec.CallerName = `=HYPERLINK("http://evil.example/","x")`
	rec.CalledReceived = "+4930123456"
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), []cdr.Record{rec}); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	for _, path := range []string{"/cdrs.csv", "/api/v1/cdrs/export.csv"} {
		res := v.get(path)
		rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if res.StatusCode != http.StatusOK || err != nil || len(rows) != 2 {
			t.Fatalf("%s: %d %v %d rows", path, res.StatusCode, err, len(rows))
		}
		cells := map[string]string{}
		for i, c := range rows[0] {
			cells[c] = rows[1][i]
		}
		for col, want := range map[string]string{
			"caller_number": "'=2+5", "caller_name": `'=HYPERLINK("http://evil.example/","x")`,
			"called_received": "'+4930123456", "account": rec.Account,
		} {
			if cells[col] != want {
				t.Errorf("%s %s = %q, want %q", path, col, cells[col], want)
			}
		}
	}
}

// TestCDRFilterRejectsBadText: NUL or broken UTF-8 in a filter is the
// user's mistake (400 naming the parameter), not an outage (503) nor an
// empty download.
func TestCDRFilterRejectsBadText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.login("viewer")
	for _, bad := range []string{"12\x003", "\xff\xfe", "ab\xc3"} {
		for _, path := range []string{"/cdrs", "/cdrs.csv", "/api/v1/cdrs", "/api/v1/cdrs/export.csv"} {
			for _, param := range []string{"caller", "account", "call_id", "gateway", "reason", "source_ip", "route"} {
				res := v.get(path + "?" + param + "=" + url.QueryEscape(bad))
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, param) {
					t.Errorf("%s?%s=%q: %d %.200s", path, param, bad, res.StatusCode, res.body)
				}
			}
		}
	}
	// The same on the login form: a wrong name, not an unavailable database.
	res := e.anon().post("/login", url.Values{"name": {"admin\x00"}, "password": {testPassword}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with a NUL in the name: %d", res.StatusCode)
	}
}

// TestCDRTotalsTooLong: totals that take longer than Options.TotalsTimeout
// are cancelled; the search page still shows its records with a message
// saying how to narrow the search, the API answers 503 with it.
func TestCDRTotalsTooLong(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(o *Options) { o.TotalsTimeout = time.Nanosecond })
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), []cdr.Record{testRecord(1, now.Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	page := v.get("/cdrs?gateway=127.0.0.1:5080&totals=1")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `id="totals-error"`) ||
		!strings.Contains(page.body, "took longer than 1ns and were stopped") || strings.Contains(page.body, `id="totals"`) {
		t.Fatalf("search page with totals past their bound: %d\n%s", page.StatusCode, page.body)
	}
	if !strings.Contains(page.body, "15550000001") {
		t.Errorf("the search page lost its records with its totals")
	}
	res := v.get("/api/v1/cdrs/totals?gateway=127.0.0.1:5080")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.body, "narrow its time range") {
		t.Errorf("API totals past their bound: %d %s", res.StatusCode, res.body)
	}
}

// TestCDRTotals: the totals of a search count every matching record, not
// one page.
func TestCDRTotals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []cdr.Record
	for i := 1; i <= 6; i++ { // 3 and 6 busy; the others 58 s each
		recs = append(recs, testRecord(i, now.Add(-time.Duration(i)*time.Minute)))
	}
	recs[1].SourceIP, recs[2].SourceIP = "192.0.2.7", "192.0.2.7" // one answered, one busy
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	res := v.get("/api/v1/cdrs/totals?limit=1")
	var got cdr.Totals
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(res.body), &got) != nil {
		t.Fatalf("totals = %d %s", res.StatusCode, res.body)
	}
	if want := (cdr.Totals{Calls: 6, Answered: 4, Minutes: 4 * 58.0 / 60, ASR: 100 * 4.0 / 6, ACD: 58}); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	page := v.get("/cdrs?code=486")
	if !strings.Contains(page.body, `id="show-totals"`) || strings.Contains(page.body, `id="totals"`) {
		t.Errorf("the search page computed totals unasked, or offers none")
	}
	if page = v.get("/cdrs?code=486&totals=1"); !strings.Contains(page.body, "<strong>2</strong> calls, <strong>0</strong> answered") {
		t.Errorf("the search page's totals are missing")
	}
	if res := v.get("/api/v1/cdrs/totals?reason=busy&released_by=caller&route=uk"); !strings.Contains(res.body, `"calls": 2`) {
		t.Errorf("totals by reason, released_by and route: %s", res.body)
	}
	if res := v.get("/api/v1/cdrs/totals?source_ip=192.0.2.7"); !strings.Contains(res.body, `"calls": 2`) || !strings.Contains(res.body, `"answered": 1`) {
		t.Errorf("totals by source IP: %s", res.body)
	}
	var found struct {
		CDRs []cdr.Record `json:"cdrs"`
	}
	if res := v.get("/api/v1/cdrs?source_ip=192.0.2.7"); json.Unmarshal([]byte(res.body), &found) != nil || len(found.CDRs) != 2 ||
		found.CDRs[0].ID != recs[1].ID || found.CDRs[1].ID != recs[2].ID {
		t.Errorf("search by source IP: %d %.300s", res.StatusCode, res.body)
	}
	if page := v.get("/cdrs?source_ip=192.0.2.7"); strings.Count(page.body, `href="/cdrs/`) != 2 || !strings.Contains(page.body, `name="source_ip" value="192.0.2.7"`) {
		t.Errorf("the search page by source IP lists %d records", strings.Count(page.body, `href="/cdrs/`))
	}
	if res := v.get("/api/v1/cdrs/totals?min_duration=58&max_duration=58"); !strings.Contains(res.body, `"calls": 4`) {
		t.Errorf("totals by duration: %s", res.body)
	}
	if res := v.get("/api/v1/cdrs/totals?min_duration=59"); !strings.Contains(res.body, `"calls": 0`) {
		t.Errorf("totals above every duration: %s", res.body)
	}
	if res := v.get("/api/v1/cdrs?min_duration=9&max_duration=3"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("an empty duration range = %d", res.StatusCode)
	}
	if res := v.get("/api/v1/cdrs/totals?code=486"); !strings.Contains(res.body, `"calls": 2`) || !strings.Contains(res.body, `"answered": 0`) {
		t.Errorf("busy totals %s", res.body)
	}
}
