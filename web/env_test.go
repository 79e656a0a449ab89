package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/billing"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/migrations"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/b2bua"
)

func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }

// fakeSwitch stands in for *b2bua.Switch in handler tests.
type fakeSwitch struct {
	mu    sync.Mutex
	calls []b2bua.CallInfo
	stats b2bua.Stats
	cfg   *config.Config
	regs  []b2bua.RegistrationInfo
	adm   b2bua.Admission
	// clientTx is what ClientTransactions reports.
	clientTx int
}

func (f *fakeSwitch) Admission() b2bua.Admission {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.adm
}

func (f *fakeSwitch) Snapshot() []b2bua.CallInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]b2bua.CallInfo(nil), f.calls...)
}

func (f *fakeSwitch) CallDetail(id string) (b2bua.CallDetail, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.ID == id {
			return b2bua.CallDetail{CallInfo: c, Phase: "connected", Profile: "carrier-<x>", MaxDuration: time.Hour,
				Legs: []b2bua.LegDetail{{Name: "caller", State: "connected", CallID: "a@test", Peer: "sip:" + c.Caller + "@127.0.0.1", Keepalive: 30 * time.Second},
					{Name: "gateway", State: "connected", CallID: "b@test", Peer: "sip:" + c.Called + "@127.0.0.1:5080", SessionInterval: 90 * time.Second}},
				Attempts: []cdr.Attempt{{Gateway: c.Gateway, CallID: "b@test", Start: c.Setup, SIPCode: 200, SIPReason: "OK", Answered: true}}}, true
		}
	}
	return b2bua.CallDetail{}, false
}

func (f *fakeSwitch) Hangup(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.calls {
		if c.ID == id {
			f.calls = append(f.calls[:i], f.calls[i+1:]...)
			return nil
		}
	}
	return b2bua.ErrNoSuchCall
}

// CallDTMF answers "5" from the caller for a call that is up.
func (f *fakeSwitch) CallDTMF(_ context.Context, id string) (rtpproxyctl.DTMF, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.ID == id {
			return rtpproxyctl.DTMF{FromCaller: "5"}, nil
		}
	}
	return rtpproxyctl.DTMF{}, b2bua.ErrNoSuchCall
}

func (f *fakeSwitch) ActiveCalls() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.calls))
}

func (f *fakeSwitch) ClientTransactions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clientTx
}

func (f *fakeSwitch) Stats() *b2bua.Stats    { return &f.stats }
func (f *fakeSwitch) Config() *config.Config { return f.cfg }
func (f *fakeSwitch) GatewayHealth() []b2bua.GatewayHealth {
	return []b2bua.GatewayHealth{{Address: "127.0.0.1:5080", Transport: "udp", Up: false, Failures: 3,
		History: []b2bua.HealthChange{{At: time.Now(), Up: false}}}}
}

func (f *fakeSwitch) GatewayLoads() []b2bua.GatewayLoad {
	return []b2bua.GatewayLoad{{Address: "127.0.0.1:5080", Transport: "udp", Active: 1, MaxCalls: 2, MaxCPS: 5, SkippedFull: 3, SkippedRate: 4}}
}

func (f *fakeSwitch) Registrations() []b2bua.RegistrationInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]b2bua.RegistrationInfo{}, f.regs...)
}

func (f *fakeSwitch) Unregister(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.regs {
		if r.ID == id {
			f.regs = append(f.regs[:i], f.regs[i+1:]...)
			return nil
		}
	}
	return b2bua.ErrNoSuchRegistration
}

const testConfig = `
routes:
  - {name: uk, prefix: "44", gateways: [{address: "127.0.0.1:5080"}, {address: "127.0.0.1:5082", transport: tcp}]}
  - {name: de, prefix: "49", gateways: [{group: carriers}]}
gateway_groups:
  - {name: carriers, members: [{address: "127.0.0.1:5084", weight: 3, media: none}, {address: "127.0.0.1:5086", priority: 1}]}
radius:
  auth: none
`

func testSwitch(t testing.TB) *fakeSwitch {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSwitch{cfg: cfg}
}

// env is a web server on a real PostgreSQL with one user of each role.
type env struct {
	t       testing.TB
	srv     *Server
	ts      *httptest.Server
	db      *pgxpool.Pool
	sw      *fakeSwitch
	reloads int
	reloadE error
}

const testPassword = "correct horse battery"

func newEnv(t testing.TB) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith is newEnv with options changed by opt before the server is
// built.
func newEnvWith(t testing.TB, opt func(*Options)) *env {
	t.Helper()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e := &env{t: t, db: db, sw: testSwitch(t)}
	for _, r := range []Role{roleAdmin, roleOperator, roleViewer} {
		if _, err := AddUser(ctx, db, string(r), r, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Switch: e.sw, DB: db,
		Reload: func() error { e.reloads++; return e.reloadE },
		Spool:  func() cdr.SpoolStats { return cdr.SpoolStats{Depth: 3, Segments: 1, OldestUnshipped: time.Now()} },
		LimitRefusals: func() map[billing.Kind]uint64 {
			return map[billing.Kind]uint64{billing.AccountCalls: 4, billing.GatewayCalls: 0, billing.CallRate: 9, billing.NoCredit: 1}
		},
	}
	if opt != nil {
		opt(&o)
	}
	e.srv, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	e.ts = httptest.NewTLSServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

// client is a browser-like client: a cookie jar, no redirect following.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
	tok  string // API token, instead of the session
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	hc := e.ts.Client()
	c := *hc
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{e: e, hc: &c}
}

var csrfRE = regexp.MustCompile(`data-csrf="([^"]+)"`)

func (e *env) login(name string) *client {
	e.t.Helper()
	c := e.anon()
	res := c.post("/login", url.Values{"name": {name}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", name, res.StatusCode, res.body)
	}
	page := c.get("/calls")
	m := csrfRE.FindStringSubmatch(page.body)
	if m == nil {
		e.t.Fatalf("no CSRF token on the page: %d %s", page.StatusCode, page.body)
	}
	c.csrf = m[1]
	return c
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.e.t.Helper()
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res, string(b)}
}

func (c *client) get(path string) response {
	req, _ := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	return c.do(req)
}

// post sends a form with the session's CSRF token unless it has one.
func (c *client) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	if c.csrf != "" && !form.Has("csrf") {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *client) send(method, path string) response {
	req, _ := http.NewRequest(method, c.e.ts.URL+path, nil)
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	return c.do(req)
}

func (e *env) addCall(id, caller, called string) {
	e.sw.mu.Lock()
	defer e.sw.mu.Unlock()
	e.sw.calls = append(e.sw.calls, b2bua.CallInfo{ID: id, Caller: caller, Called: called, Source: "127.0.0.1:5061",
		Route: "uk", Gateway: "127.0.0.1:5080", State: "connected", Attempts: 1,
		Account: "acct-" + caller, MediaRelay: "builtin", Codec: "PCMA",
		Setup: time.Now().Add(-time.Minute), Connect: time.Now().Add(-50 * time.Second)})
}

func (e *env) auditActions(t testing.TB) []string {
	rows, err := e.db.Query(context.Background(), "SELECT action || ' ' || actor || ' ' || target FROM audit_log ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	return out
}
