package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/routing"
)

// TestGroupStats: the statistics page and /api/v1/stats/{gateways,routes,
// accounts} give each gateway's, route's and account's figures over the
// picked range, with the routing table's gateway names and the calls up
// now; a wrong parameter is a 400 that names it.
func TestGroupStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.srv.routing.CreateGateway(ctx, routing.Gateway{Name: "carrier-x", Address: "127.0.0.1:5080", Transport: "udp", MaxCalls: 5, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	setup := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	call := func(i int, gw string, code int, d time.Duration) cdr.Record {
		r := cdr.Record{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), SetupTime: setup, Route: "uk", Account: "acct-1",
			Gateway: gw, SIPCode: code, PostDialDelay: 400 * time.Millisecond, DisconnectReason: cdr.ReasonNormal,
			Attempts: []cdr.Attempt{{Gateway: gw, SIPCode: code, Ringing: true, Answered: code == 200}}}
		if code == 200 {
			r.ConnectTime, r.Duration = setup.Add(time.Second), d
		}
		return r
	}
	recs := []cdr.Record{call(1, "127.0.0.1:5080", 200, 50*time.Second), call(2, "127.0.0.1:5080", 200, 70*time.Second),
		call(3, "127.0.0.1:5080", 486, 0), call(4, "127.0.0.1:5090", 503, 0)}
	if err := cdr.NewPGWriter(e.db).Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	e.addCall("6f1c1f1e-3a59-4b43-9a4c-1d0d6a0e0a01", "15550001", "4420790001") // up on 127.0.0.1:5080

	v := e.login("viewer")
	stats := func(path string) statsReport {
		t.Helper()
		res := v.get(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.body)
		}
		var rep statsReport
		if err := json.Unmarshal([]byte(res.body), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.01 }
	gws := stats("/api/v1/stats/gateways?range=24h")
	if len(gws.Groups) != 2 {
		t.Fatalf("gateways: %+v", gws.Groups)
	}
	if g := gws.Groups[0]; g.Name != "127.0.0.1:5080" || g.Label != "carrier-x" || g.Attempts != 3 || g.Answered != 2 ||
		!near(g.ASR, 200.0/3) || !near(g.ACD, 60) || !near(g.NER, 100) || !near(g.PDD, 400) || g.Active != 1 || g.Capacity != 5 {
		t.Errorf("carrier-x: %+v", g)
	}
	if g := gws.Groups[1]; g.Name != "127.0.0.1:5090" || g.Label != "" || g.Attempts != 1 || g.Answered != 0 || g.NER != 0 || g.Active != 0 {
		t.Errorf("the unnamed gateway: %+v", g)
	}
	if !gws.From.Equal(gws.From.Truncate(time.Hour)) || gws.To.Sub(gws.From) != 25*time.Hour {
		t.Errorf("24 h from now span the whole hours %v to %v, want 25 of them", gws.From, gws.To)
	}
	if rts := stats("/api/v1/stats/routes"); len(rts.Groups) != 1 || rts.Groups[0].Name != "uk" || rts.Groups[0].Attempts != 4 || rts.Groups[0].Active != 1 {
		t.Errorf("routes: %+v", rts.Groups)
	}
	from, to := setup.Add(-2*time.Hour).Format("2006-01-02T15:04"), setup.Add(-time.Hour).Format("2006-01-02T15:04")
	if acc := stats("/api/v1/stats/accounts?from=" + from + "&to=" + to); len(acc.Groups) != 0 {
		t.Errorf("accounts over a range without calls: %+v", acc.Groups)
	}

	page := v.get("/stats?by=gateway&range=1h")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `<tr data-name="127.0.0.1:5080">`) ||
		!strings.Contains(page.body, "(carrier-x)") || !strings.Contains(page.body, "66.7%") || !strings.Contains(page.body, `<td class="num active">1 / 5</td>`) {
		t.Errorf("the statistics page: %d\n%s", page.StatusCode, page.body)
	}

	for _, bad := range []struct{ query, want string }{
		{"range=2d", "range: want 1h, 24h, 7d or 30d"},
		{"by=caller", "by: want gateway, route or account"},
		{"from=2026-01-01", "from: give both from and to"},
		{"from=2026-01-02&to=2026-01-01", "to: must be after from"},
		{"from=2024-01-01&to=2026-01-01", "to: at most 366 days after from"},
		{"range=24h&from=2026-01-01&to=2026-01-02", "range: give either range or from and to"},
		{"limit=0", "limit: want 1 to 1000"},
		{"order=name", "order: unknown parameter"},
		{"range=" + url.QueryEscape("24h\x00"), "range: not valid UTF-8"},
	} {
		if res := v.get("/stats?" + bad.query); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, bad.want) {
			t.Errorf("page ?%s: %d, want 400 with %q", bad.query, res.StatusCode, bad.want)
		}
		if strings.HasPrefix(bad.query, "by=") {
			continue
		}
		if res := v.get("/api/v1/stats/routes?" + bad.query); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, bad.want) {
			t.Errorf("API ?%s: %d %s, want 400 with %q", bad.query, res.StatusCode, res.body, bad.want)
		}
	}
	if res := v.get("/api/v1/stats/routes?by=route"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("API with by: %d, want 400", res.StatusCode)
	}
}

// TestCDRSort: the search page's column headings order it, and the API
// takes the same sort names; anything else is a 400 that lists them, and a
// cursor of another order is refused.
func TestCDRSort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []cdr.Record
	for i := range 5 {
		r := testRecord(i+1, now.Add(-time.Duration(i)*time.Minute))
		r.Duration = time.Duration(10*((i+3)%5)) * time.Second
		recs = append(recs, r)
	}
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	page := v.get("/cdrs?sort=-duration")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "by duration descending") {
		t.Fatalf("sorted page = %d", page.StatusCode)
	}
	// The longest call (i=1: 40 s) first; the heading now turns it ascending.
	if first := strings.Index(page.body, recs[1].ID); first < 0 || first > strings.Index(page.body, recs[0].ID) {
		t.Errorf("the longest call is not first")
	}
	if !strings.Contains(page.body, `href="/cdrs?sort=duration" class="sort" data-sort="duration"`) {
		t.Errorf("the duration heading does not offer the ascending order")
	}
	var res struct {
		CDRs []cdr.Record `json:"cdrs"`
		Next string       `json:"next_cursor"`
	}
	r := v.get("/api/v1/cdrs?sort=caller&limit=2")
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &res) != nil || len(res.CDRs) != 2 || res.Next == "" ||
		res.CDRs[0].CallerNumber > res.CDRs[1].CallerNumber {
		t.Fatalf("API sorted by caller = %d %.300s", r.StatusCode, r.body)
	}
	if r := v.get("/api/v1/cdrs?sort=caller&limit=2&cursor=" + res.Next); r.StatusCode != http.StatusOK {
		t.Errorf("the next page in the same order = %d %s", r.StatusCode, r.body)
	}
	if r := v.get("/api/v1/cdrs?sort=-pdd&limit=2&cursor=" + res.Next); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a cursor of another order = %d %s", r.StatusCode, r.body)
	}
	for _, bad := range []string{"bogus", url.QueryEscape("duration_ms; DROP TABLE cdrs"), "--duration"} {
		if r := v.get("/api/v1/cdrs?sort=" + bad); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "want one of account, called, caller, code, duration, gateway, pdd, setup") {
			t.Errorf("sort=%s = %d %s", bad, r.StatusCode, r.body)
		}
	}
}

// TestCallDetailPage: an active call's row links to its live detail —
// phase, legs with their states, dialogs and timers, attempts, the profile
// that applied (escaped) — in the page and the API; a call not up is a 404.
func TestCallDetailPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := "6f1c1f1e-3a59-4b43-9a4c-1d0d6a0e0a01"
	e.addCall(id, "15550001", "4420790001")
	v := e.login("viewer")
	if list := v.get("/calls"); !strings.Contains(list.body, `href="/calls/`+id+`">Detail</a>`) {
		t.Errorf("the active calls page does not link the call's detail")
	}
	page := v.get("/calls/" + id)
	for _, want := range []string{`<tr data-leg="caller">`, `<tr data-leg="gateway">`, "b@test", "1:30", "0:30", "carrier-&lt;x&gt;", "1:00:00", "127.0.0.1:5080"} {
		if page.StatusCode != http.StatusOK || !strings.Contains(page.body, want) {
			t.Errorf("the call's page = %d, lacks %q", page.StatusCode, want)
		}
	}
	var d struct {
		Phase   string `json:"phase"`
		Profile string `json:"profile"`
		Legs    []struct {
			Name    string  `json:"name"`
			Session float64 `json:"session_interval_seconds"`
		} `json:"legs"`
	}
	r := v.get("/api/v1/calls/" + id)
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &d) != nil || d.Phase != "connected" || d.Profile != "carrier-<x>" ||
		len(d.Legs) != 2 || d.Legs[1].Session != 90 {
		t.Errorf("the call's API = %d %s", r.StatusCode, r.body)
	}
	if r := v.get("/api/v1/calls/0f1c1f1e-3a59-4b43-9a4c-1d0d6a0e0a99"); r.StatusCode != http.StatusNotFound {
		t.Errorf("a call not up = %d", r.StatusCode)
	}
	if r := v.get("/calls/not-an-id"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad call id = %d", r.StatusCode)
	}
}
