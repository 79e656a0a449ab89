package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

const callID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// TestRoutesByRole checks every route for every role: what each may see
// and do, and that the anonymous get a redirect (pages) or 401 (API).
func TestRoutesByRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clients := map[string]*client{"anon": e.anon(), "viewer": e.login("viewer"), "operator": e.login("operator"), "admin": e.login("admin")}
	tok := e.anon()
	secret, _, err := e.srv.store.addToken(context.Background(), 3, "ci") // user 3 is the viewer
	if err != nil {
		t.Fatal(err)
	}
	tok.tok = secret
	clients["viewer-token"] = tok

	const anonPage, anonAPI = http.StatusSeeOther, http.StatusUnauthorized
	ok, forbidden := http.StatusOK, http.StatusForbidden
	cases := []struct {
		method, path string
		// want is the status per client: anon, viewer, operator, admin, viewer-token.
		want [5]int
	}{
		{"GET", "/", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"GET", "/calls", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"GET", "/cdrs", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"GET", "/cdrs.csv", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"GET", "/config", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"GET", "/audit", [5]int{anonPage, forbidden, forbidden, ok, anonPage}},
		{"GET", "/users", [5]int{anonPage, forbidden, forbidden, ok, anonPage}},
		{"GET", "/account", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"POST", "/account/password", [5]int{anonPage, http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest, anonPage}},
		{"POST", "/calls/" + callID + "/kill", [5]int{anonPage, forbidden, http.StatusSeeOther, http.StatusSeeOther, anonPage}},
		{"POST", "/config/reload", [5]int{anonPage, forbidden, forbidden, http.StatusSeeOther, anonPage}},
		{"GET", "/api/v1/me", [5]int{anonAPI, ok, ok, ok, ok}},
		{"POST", "/api/v1/me/password", [5]int{anonAPI, http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest}},
		{"GET", "/api/v1/calls", [5]int{anonAPI, ok, ok, ok, ok}},
		{"DELETE", "/api/v1/calls/" + callID, [5]int{anonAPI, forbidden, http.StatusNotFound, http.StatusNotFound, forbidden}},
		{"GET", "/api/v1/registrations", [5]int{anonAPI, ok, ok, ok, ok}},
		{"DELETE", "/api/v1/registrations/tg-00", [5]int{anonAPI, forbidden, http.StatusNotFound, http.StatusNotFound, forbidden}},
		{"GET", "/api/v1/cdrs", [5]int{anonAPI, ok, ok, ok, ok}},
		{"GET", "/api/v1/cdrs/export.csv", [5]int{anonAPI, ok, ok, ok, ok}},
		{"GET", "/api/v1/cdrs/" + callID, [5]int{anonAPI, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound}},
		{"GET", "/api/v1/stats", [5]int{anonAPI, ok, ok, ok, ok}},
		{"GET", "/api/v1/health", [5]int{anonAPI, ok, ok, ok, ok}},
		{"GET", "/api/v1/config", [5]int{anonAPI, ok, ok, ok, ok}},
		{"POST", "/api/v1/config/reload", [5]int{anonAPI, forbidden, forbidden, ok, forbidden}},
		{"GET", "/api/v1/audit", [5]int{anonAPI, forbidden, forbidden, ok, forbidden}},
		{"GET", "/api/v1/users", [5]int{anonAPI, forbidden, forbidden, ok, forbidden}},
		{"GET", "/gateway-groups", [5]int{anonPage, ok, ok, ok, anonPage}},
		{"POST", "/gateway-groups", [5]int{anonPage, forbidden, forbidden, http.StatusBadRequest, anonPage}},
		{"GET", "/api/v1/gateway-groups", [5]int{anonAPI, ok, ok, ok, ok}},
		{"DELETE", "/api/v1/gateway-groups/99", [5]int{anonAPI, forbidden, forbidden, http.StatusNotFound, forbidden}},
		{"GET", "/healthz", [5]int{ok, ok, ok, ok, ok}},
		{"GET", "/metrics", [5]int{ok, ok, ok, ok, ok}},
		{"GET", "/static/app.css", [5]int{ok, ok, ok, ok, ok}},
		{"GET", "/login", [5]int{ok, http.StatusSeeOther, http.StatusSeeOther, http.StatusSeeOther, ok}},
		{"GET", "/nope", [5]int{http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound}},
		{"GET", "/api/v1/nope", [5]int{anonAPI, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusNotFound}},
	}
	for _, tc := range cases {
		for i, who := range []string{"anon", "viewer", "operator", "admin", "viewer-token"} {
			t.Run(who+" "+tc.method+" "+tc.path, func(t *testing.T) {
				c := clients[who]
				var res response
				if tc.method == "POST" && !strings.HasPrefix(tc.path, "/api/") {
					res = c.post(tc.path, nil)
				} else {
					res = c.send(tc.method, tc.path)
				}
				if res.StatusCode != tc.want[i] {
					t.Fatalf("%s %s as %s = %d, want %d: %.300s", tc.method, tc.path, who, res.StatusCode, tc.want[i], res.body)
				}
				if res.StatusCode == anonPage && strings.HasPrefix(tc.path, "/") && tc.want[i] == anonPage && who == "anon" {
					if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
						t.Fatalf("redirect to %q, want the login page", loc)
					}
				}
				if strings.HasPrefix(tc.path, "/api/") && !strings.HasSuffix(tc.path, ".csv") {
					if ct := res.Header.Get("Content-Type"); ct != "application/json" {
						t.Fatalf("Content-Type %q, want JSON", ct)
					}
				}
			})
		}
	}
}

func TestLoginSessionAndCookies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.anon()
	res := c.get("/login")
	pre := res.Header.Values("Set-Cookie")
	res = c.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}, "next": {"/cdrs"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/cdrs" {
		t.Fatalf("login = %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookie := ""
	for _, c := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "tollgate_session=") {
			cookie = c
		}
	}
	for _, attr := range []string{"tollgate_session=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if len(pre) > 0 && strings.Contains(cookie, strings.Split(pre[0], ";")[0]) {
		t.Errorf("session token not rotated on login")
	}
	// An off-site "next" is not followed.
	c2 := e.anon()
	res = c2.post("/login", url.Values{"name": {"viewer"}, "password": {testPassword}, "next": {"//evil.example/"}})
	if res.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example redirected to %q", res.Header.Get("Location"))
	}
	// Logout ends the session on the server.
	a := e.login("operator")
	if res := a.post("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", res.StatusCode)
	}
	if res := a.get("/calls"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout /calls = %d, want a redirect", res.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"login admin", "login viewer", "logout operator"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
}

func TestLoginFailuresAndThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The admin's own browser has logged in before.
	own := e.login("admin")
	// The clock stands still: bcrypt on a busy machine must not outlast a wait.
	start := time.Now()
	e.srv.throttle.now = func() time.Time { return start }
	c := e.anon()
	for i := range pairLimit.free + 1 {
		res := c.post("/login", url.Values{"name": {"admin"}, "password": {"wrong password " + fmt.Sprint(i)}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "Wrong user name or password") {
			t.Fatalf("bad login %d = %d", i, res.StatusCode)
		}
	}
	if res := c.post("/login", url.Values{"name": {"nobody"}, "password": {"x"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user = %d", res.StatusCode)
	}
	// The guesser now waits, right password or not.
	res := c.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled login = %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// The owner's browser, same address, is not kept out.
	if res := own.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin's own browser = %d %s", res.StatusCode, res.body)
	}
	e.srv.throttle.now = func() time.Time { return start.Add(pairLimit.max) }
	if res = c.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the wait = %d", res.StatusCode)
	}
	dev := ""
	for _, ck := range res.Cookies() {
		if ck.Name == deviceCookie {
			dev = ck.String()
		}
	}
	for _, attr := range []string{"Path=/login", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(dev, attr) {
			t.Errorf("device cookie %q lacks %s", dev, attr)
		}
	}
	acts := strings.Join(e.auditActions(t), "\n")
	if strings.Count(acts, "login failed admin") != pairLimit.free+1 || !strings.Contains(acts, "login throttled admin") ||
		!strings.Contains(acts, "login failed nobody") {
		t.Fatalf("audit log:\n%s", acts)
	}
	// A disabled user cannot log in.
	if _, err := e.srv.store.setDisabled(context.Background(), 3, true); err != nil {
		t.Fatal(err)
	}
	if res := e.anon().post("/login", url.Values{"name": {"viewer"}, "password": {testPassword}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled user login = %d", res.StatusCode)
	}
}

// TestTokenWrongPasswordsDoNotLockLogin: wrong current passwords sent with
// an API token are throttled on their own.
func TestTokenWrongPasswordsDoNotLockLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret, _, err := e.srv.store.addToken(context.Background(), 2, "ci") // user 2 is the operator
	if err != nil {
		t.Fatal(err)
	}
	api := e.anon()
	api.tok = secret
	throttled := false
	for range 10 {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/me/password",
			strings.NewReader(`{"current_password": "nope", "new_password": "`+newPassword+`"}`))
		if api.do(req).StatusCode == http.StatusTooManyRequests {
			throttled = true
		}
	}
	if !throttled {
		t.Fatal("ten wrong passwords through a token were not throttled")
	}
	e.login("operator") // fails the test unless the login goes through
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addCall(callID, "100", "4420")
	op := e.login("operator")
	// No token in the form.
	if res := op.post("/calls/"+callID+"/kill", url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("kill with a wrong token = %d", res.StatusCode)
	}
	// A cross-site request is refused before the handler.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/calls/"+callID+"/kill", strings.NewReader("csrf="+op.csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res := op.do(req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site kill = %d", res.StatusCode)
	}
	// The API with a session needs the header.
	req, _ = http.NewRequest(http.MethodDelete, e.ts.URL+"/api/v1/calls/"+callID, nil)
	if res := op.do(req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("API kill without X-CSRF-Token = %d", res.StatusCode)
	}
	if e.sw.ActiveCalls() != 1 {
		t.Fatal("a refused request killed the call")
	}
}

func TestKillCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addCall(callID, "100", "4420")
	viewer := e.login("viewer")
	if res := viewer.send(http.MethodDelete, "/api/v1/calls/"+callID); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer kill = %d", res.StatusCode)
	}
	page := viewer.get("/calls")
	if !strings.Contains(page.body, "4420") || strings.Contains(page.body, "/kill") {
		t.Fatalf("viewer's calls page: want the call and no kill button")
	}
	op := e.login("operator")
	if res := op.send(http.MethodDelete, "/api/v1/calls/not-a-uuid"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("kill bad id = %d", res.StatusCode)
	}
	if page := op.get("/calls"); !strings.Contains(page.body, "/calls/"+callID+"/kill") {
		t.Fatal("operator sees no kill button")
	}
	res := op.post("/calls/"+callID+"/kill", nil)
	if res.StatusCode != http.StatusSeeOther || e.sw.ActiveCalls() != 0 {
		t.Fatalf("kill = %d, calls left %d", res.StatusCode, e.sw.ActiveCalls())
	}
	if page := op.get("/calls"); !strings.Contains(page.body, "killed") {
		t.Fatal("no confirmation after the kill")
	}
	if res := op.send(http.MethodDelete, "/api/v1/calls/"+callID); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second kill = %d", res.StatusCode)
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, "call kill operator "+callID) {
		t.Fatalf("audit log:\n%s", acts)
	}
	var got struct {
		Calls []callView `json:"calls"`
	}
	e.addCall("1f8fad5b-d9cb-469f-a165-70867728950e", "200", "4499")
	e.addCall("2f8fad5b-d9cb-469f-a165-70867728950e", "300", "3311")
	if err := json.Unmarshal([]byte(op.get("/api/v1/calls?q=4499").body), &got); err != nil || len(got.Calls) != 1 || got.Calls[0].Called != "4499" {
		t.Fatalf("search calls: %v %+v", err, got)
	}
	// Account, media relay and codec are shown and searched.
	c := got.Calls[0]
	if c.Account != "acct-200" || c.MediaRelay != "builtin" || c.Codec != "PCMA" {
		t.Fatalf("call's account, relay, codec: %+v", c)
	}
	got.Calls = nil
	if err := json.Unmarshal([]byte(op.get("/api/v1/calls?q=ACCT-300").body), &got); err != nil || len(got.Calls) != 1 || got.Calls[0].Called != "3311" {
		t.Fatalf("search calls by account: %v %+v", err, got)
	}
	got.Calls = nil
	if err := json.Unmarshal([]byte(op.get("/api/v1/calls?q=pcma").body), &got); err != nil || len(got.Calls) != 2 {
		t.Fatalf("search calls by codec: %v %+v", err, got)
	}
	page = op.get("/calls?q=acct-200")
	if !strings.Contains(page.body, "<th>Account</th>") || !strings.Contains(page.body, "<td>acct-200</td>") ||
		!strings.Contains(page.body, "<td>builtin</td>") || !strings.Contains(page.body, "<td>PCMA</td>") || strings.Contains(page.body, "3311") {
		t.Fatalf("calls page filtered by account: %s", page.body)
	}
}

func testRecord(i int, setup time.Time) cdr.Record {
	r := cdr.Record{
		ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), CallIDA: fmt.Sprintf("a-%d@test", i),
		CallerNumber: fmt.Sprintf("1555%07d", i), CalledReceived: fmt.Sprintf("44%09d", i), CalledSent: fmt.Sprintf("44%09d", i),
		Account: fmt.Sprintf("acct%d", i%10), Gateway: "127.0.0.1:5080", Route: "uk",
		SetupTime: setup, DisconnectTime: setup.Add(time.Minute), SIPCode: 200, SIPReason: "OK",
		DisconnectReason: cdr.ReasonNormal, ReleasedBy: cdr.ReleasedByCaller, PostDialDelay: 300 * time.Millisecond,
		Attempts: []cdr.Attempt{{Gateway: "127.0.0.1:5080", CallID: "b", Start: setup, End: setup.Add(time.Minute), SIPCode: 200, Answered: true}},
	}
	if i%3 == 0 {
		r.SIPCode, r.SIPReason, r.DisconnectReason, r.Q850Cause = 486, "Busy Here", cdr.ReasonBusy, 17
	} else {
		r.Q850Cause = 16
		r.ConnectTime = setup.Add(2 * time.Second)
		r.Duration = 58 * time.Second
		r.BilledSeconds = 58
	}
	return r
}

func TestCDRSearchDetailCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []cdr.Record
	for i := range 120 {
		recs = append(recs, testRecord(i, now.Add(-time.Duration(i)*time.Minute)))
	}
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	v := e.login("viewer")
	page := v.get("/cdrs?limit=50")
	if page.StatusCode != 200 || strings.Count(page.body, `href="/cdrs/`) != 50 || !strings.Contains(page.body, `id="next"`) {
		t.Fatalf("first page: %d, %d links", page.StatusCode, strings.Count(page.body, `href="/cdrs/`))
	}
	// Walk the pages through the API.
	seen := 0
	cursor := ""
	for range 5 {
		var res struct {
			CDRs []cdr.Record `json:"cdrs"`
			Next string       `json:"next_cursor"`
		}
		body := v.get("/api/v1/cdrs?limit=50&cursor=" + url.QueryEscape(cursor)).body
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err, body)
		}
		seen += len(res.CDRs)
		if cursor = res.Next; cursor == "" {
			break
		}
	}
	if seen != 120 {
		t.Fatalf("paged through %d records, want 120", seen)
	}
	// Filters.
	var res struct{ CDRs []cdr.Record }
	json.Unmarshal([]byte(v.get("/api/v1/cdrs?code=486&account=acct3").body), &res)
	for _, r := range res.CDRs {
		if r.SIPCode != 486 || r.Account != "acct3" {
			t.Fatalf("filter returned %+v", r)
		}
	}
	if len(res.CDRs) == 0 {
		t.Fatal("no busy calls of acct3")
	}
	res.CDRs = nil
	json.Unmarshal([]byte(v.get("/api/v1/cdrs?q850=17&limit=1000").body), &res)
	for _, r := range res.CDRs {
		if r.Q850Cause != 17 {
			t.Fatalf("q850 filter returned %+v", r)
		}
	}
	if len(res.CDRs) != 40 {
		t.Fatalf("q850=17 found %d records, want the 40 busy ones", len(res.CDRs))
	}
	if r := v.get("/api/v1/cdrs?q850=300"); r.StatusCode != 400 || !strings.Contains(r.body, "q850") {
		t.Fatalf("a bad q850 got %d %s", r.StatusCode, r.body)
	}
	// Detail page and API.
	id := recs[7].ID
	if p := v.get("/cdrs/" + id); p.StatusCode != 200 || !strings.Contains(p.body, recs[7].CallerNumber) || !strings.Contains(p.body, "Attempts") {
		t.Fatalf("detail page %d", p.StatusCode)
	}
	var one cdr.Record
	if err := json.Unmarshal([]byte(v.get("/api/v1/cdrs/"+id).body), &one); err != nil || one.ID != id || len(one.Attempts) != 1 {
		t.Fatalf("detail API: %v %+v", err, one)
	}
	// CSV of a search, streamed with a header row.
	csvRes := v.get("/cdrs.csv?called=4400000001")
	if csvRes.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(csvRes.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV headers %v", csvRes.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(csvRes.body)).ReadAll()
	if err != nil || len(rows) != 1+10 { // 440000000010..19 and 4400000001
		t.Fatalf("CSV: %v, %d rows", err, len(rows))
	}
	// Bad parameters are 400 with the parameter named.
	for _, q := range []string{"code=abc", "code=99", "from=yesterday", "limit=0", "limit=5000", "cursor=!!", "from=2026-01-02&to=2026-01-01", "bogus=1", "caller=" + strings.Repeat("1", 65)} {
		res := v.get("/api/v1/cdrs?" + q)
		name, _, _ := strings.Cut(q, "=")
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, name) {
			t.Errorf("?%s = %d %s", q, res.StatusCode, res.body)
		}
		if page := v.get("/cdrs?" + q); page.StatusCode != http.StatusBadRequest || !strings.Contains(page.body, "error-message") {
			t.Errorf("page ?%s = %d", q, page.StatusCode)
		}
	}
	for _, p := range []string{"/cdrs/xyz", "/api/v1/cdrs/xyz"} {
		if res := v.get(p); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s = %d", p, res.StatusCode)
		}
	}
	// The dashboard statistics see the records.
	var st liveStats
	if err := json.Unmarshal([]byte(v.get("/api/v1/stats?hours=24").body), &st); err != nil || st.CDR == nil || st.CDR.Calls != 120 {
		t.Fatalf("stats: %v %+v", err, st.CDR)
	}
	if st.CDR.Answered != 80 || len(st.CDR.Failures) != 1 || st.CDR.Failures[0].Code != 486 {
		t.Fatalf("stats: %+v", st.CDR)
	}
	if res := v.get("/api/v1/stats?minutes=0"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("stats minutes=0 = %d", res.StatusCode)
	}
	if p := v.get("/"); p.StatusCode != 200 || !strings.Contains(p.body, "Busy Here") {
		t.Fatalf("dashboard %d", p.StatusCode)
	}
}

func TestReloadAndAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	if res := a.post("/config/reload", nil); res.StatusCode != http.StatusSeeOther || e.reloads != 1 {
		t.Fatalf("reload = %d, reloads %d", res.StatusCode, e.reloads)
	}
	e.reloadE = errors.New("routes[0].prefix: bad")
	if res := a.send(http.MethodPost, "/api/v1/config/reload"); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "routes[0].prefix") {
		t.Fatalf("failed reload = %d %s", res.StatusCode, res.body)
	}
	page := a.get("/config")
	if !strings.Contains(page.body, "127.0.0.1:5082") || !strings.Contains(page.body, `id="reload"`) {
		t.Fatal("config page lacks the gateways or the reload button")
	}
	if !strings.Contains(page.body, "group carriers: udp:127.0.0.1:5084×3 udp:127.0.0.1:5086×1/p1") {
		t.Errorf("config page lacks the gateway group and its members:\n%s", page.body)
	}
	audit := a.get("/audit")
	if !strings.Contains(audit.body, "config reload failed") || !strings.Contains(audit.body, "config reload") {
		t.Fatalf("audit page: %s", audit.body)
	}
	if res := a.get("/api/v1/audit?before=x"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("audit before=x = %d", res.StatusCode)
	}
}

func TestUsersAndTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	res := a.post("/users", url.Values{"name": {"carol"}, "role": {"operator"}})
	m := strings.SplitN(res.body, `<pre class="mono" id="secret">`, 2)
	if res.StatusCode != 200 || len(m) != 2 {
		t.Fatalf("add user = %d", res.StatusCode)
	}
	password := strings.SplitN(m[1], "<", 2)[0]
	if res := a.post("/users", url.Values{"name": {"carol"}, "role": {"operator"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("duplicate user = %d", res.StatusCode)
	}
	if res := a.post("/users", url.Values{"name": {"dave"}, "role": {"root"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad role = %d", res.StatusCode)
	}
	c := e.anon()
	if res := c.post("/login", url.Values{"name": {"carol"}, "password": {password}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("new user's login = %d", res.StatusCode)
	}
	// A token for carol (id 4) works for the API and /metrics from afar.
	res = a.post("/users/4/tokens", url.Values{"name": {"prometheus"}})
	m = strings.SplitN(res.body, `<pre class="mono" id="secret">`, 2)
	if len(m) != 2 {
		t.Fatalf("add token = %d", res.StatusCode)
	}
	tok := strings.SplitN(m[1], "<", 2)[0]
	var stored int
	e.db.QueryRow(context.Background(), "SELECT count(*) FROM api_tokens WHERE hash = $1", []byte(tok)).Scan(&stored)
	if stored != 0 {
		t.Fatal("token stored in clear")
	}
	api := e.anon()
	api.tok = tok
	if res := api.get("/api/v1/me"); !strings.Contains(res.body, `"carol"`) {
		t.Fatalf("token /me: %s", res.body)
	}
	remote := func(auth string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "192.0.2.7:4000"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if remote("") != http.StatusUnauthorized || remote("Bearer tg_wrong") != http.StatusUnauthorized || remote("Bearer "+tok) != 200 {
		t.Fatal("remote /metrics: want 401 without a valid token, 200 with one")
	}
	// Disabling carol suspends her token, and says so; enabling her brings
	// it back.
	if res := a.post("/users/4/disable", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable = %d", res.StatusCode)
	}
	if res := api.get("/api/v1/me"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled user's token = %d", res.StatusCode)
	}
	if page := a.get("/users"); !strings.Contains(page.body, "refused while the user is disabled") || !strings.Contains(page.body, "prometheus") {
		t.Fatalf("the users page does not show the suspended token:\n%s", page.body)
	}
	if res := a.post("/users/4/enable", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable = %d", res.StatusCode)
	}
	if res := api.get("/api/v1/me"); res.StatusCode != http.StatusOK {
		t.Fatalf("re-enabled user's token = %d", res.StatusCode)
	}
	if res := a.post("/users/1/disable", nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("disable self = %d", res.StatusCode)
	}
	if res := a.post("/users/abc/disable", nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("disable abc = %d", res.StatusCode)
	}
	if res := a.post("/users/999/enable", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("enable 999 = %d", res.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"user add admin carol", "token add admin carol", "user disable admin carol", "user enable admin carol"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addCall(callID, "100", "4420")
	e.sw.stats.CallsStarted.Add(7)
	e.sw.stats.CallsAnswered.Add(5)
	e.sw.stats.Refused.Add(2)
	e.sw.stats.Malformed.Add(3)
	e.sw.stats.Registrations.Store(12)
	e.sw.stats.RegistersCached.Add(40)
	e.sw.mu.Lock()
	e.sw.clientTx = 6
	e.sw.mu.Unlock()
	body := e.anon().get("/metrics").body
	want := []string{"tollgate_calls_active 1", "tollgate_calls_started_total 7", "tollgate_calls_answered_total 5",
		"tollgate_overload_refused_total 2", "tollgate_sip_malformed_requests_total 3",
		`tollgate_calls_refused_total{limit="account_calls"} 4`, `tollgate_calls_refused_total{limit="gateway_calls"} 0`,
		`tollgate_calls_refused_total{limit="call_rate"} 9`, `tollgate_calls_refused_total{limit="no_credit"} 1`,
		"# TYPE tollgate_gateway_attempts_total counter",
		"tollgate_cdr_spool_depth 3", "go_goroutines", "process_cpu_seconds_total",
		"tollgate_registrations 12", `tollgate_register_requests_total{result="cached"} 40`,
		`tollgate_register_requests_total{result="limited"} 0`, "tollgate_nat_keepalives_total 0",
		"tollgate_sip_client_transactions 6"}
	// Every outcome has its series from the start, so rate() sees the first one.
	for _, o := range []string{"answered", "busy", "no_answer", "rejected", "unreachable", "cancelled", "error"} {
		want = append(want, `tollgate_gateway_attempts_total{outcome="`+o+`"} 0`)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if strings.Contains(body, "tollgate_call_attempts_total") {
		t.Error("/metrics still has tollgate_call_attempts_total, which mixed attempts and refusals")
	}
	// The dashboard shows the same.
	v := e.login("viewer")
	var st liveStats
	if err := json.Unmarshal([]byte(v.get("/api/v1/stats?hours=0").body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Attempts) != 7 || st.Attempts[1].Outcome != "answered" || len(st.Limits) != 4 || st.Limits[2] != (limitCount{"call_rate", 9}) || st.Refused != 2 {
		t.Fatalf("stats: attempts %+v limits %+v refused %d", st.Attempts, st.Limits, st.Refused)
	}
	page := v.get("/").body
	for _, w := range []string{`id="attempts-by-outcome"`, `data-outcome="no_answer"`, "no answer", `data-limit="call_rate">9<`} {
		if !strings.Contains(page, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
}

func TestNoDatabase(t *testing.T) {
	t.Parallel()
	srv, err := New(Options{Switch: testSwitch(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/login", "/api/v1/calls"} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "needs a database") {
			t.Errorf("%s without a database = %d %.200s", p, rec.Code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("/metrics without a database = %d", rec.Code)
	}
}

// TestCallDTMF: a call's detected digits, asked of its relay one call at
// a time; any role may read them.
func TestCallDTMF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addCall(callID, "100", "4420")
	viewer := e.login("viewer")
	res := viewer.get("/api/v1/calls/" + callID + "/dtmf")
	var got map[string]string
	if err := json.Unmarshal([]byte(res.body), &got); res.StatusCode != http.StatusOK || err != nil || got["from_caller"] != "5" || got["from_callee"] != "" {
		t.Fatalf("GET dtmf = %d %s", res.StatusCode, res.body)
	}
	if res := viewer.get("/api/v1/calls/not-a-uuid/dtmf"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad id = %d", res.StatusCode)
	}
	if res := viewer.get("/api/v1/calls/1f8fad5b-d9cb-469f-a165-70867728950e/dtmf"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a call not up = %d", res.StatusCode)
	}
}
