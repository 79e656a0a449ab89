package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRoutingInChromium: in a real Chromium, an admin adds two gateways and
// a route over them on the Routing page; within a second the running
// tollgate routes a SIPp call by it (the file routes the same prefix to
// another gateway); the admin disables the first gateway and the next call
// goes to the second; a probed gateway that answers nothing shows down and
// the next call skips it; a viewer sees the routing tables and is refused every
// change, in the page and over HTTP.
func TestRoutingInChromium(t *testing.T) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	fileGW, gwA, gwB := uas(t, "uas.xml", nil), uas(t, "uas.xml", nil), uas(t, "uas.xml", nil)
	webAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t))
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // a gateway that answers nothing
	p := startTollgate(t, fmt.Sprintf(`timers: {probe_interval: 200ms}
routes:
  - {name: file-us, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
web:
  listen: %q
`, fileGW.Addr(), webAddr), "TOLLGATE_CDR_DATABASE="+dsn)
	base := "http://" + webAddr
	waitHealthy(t, base)
	addUser(t, p.cfg, dsn, "admin", "admin", "admin-secret-password")
	addUser(t, p.cfg, dsn, "viewer", "viewer", "viewer-secret-password")
	b := newBrowser(t, base)

	callFrom := func(caller, called string, n int64) string {
		t.Helper()
		p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: called, Calls: 1, Rate: 10,
			Keys: map[string]string{"caller": caller}})
		waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", n)
		rows := query(t, dsn, "SELECT gateway, route FROM cdrs WHERE called_received = $1", called)
		return rows[0]["route"].(string) + " " + rows[0]["gateway"].(string)
	}
	call := func(called string, n int64) string { return callFrom("442071838750", called, n) }
	if got := call("12125550100", 1); got != "file-us "+fileGW.Addr() {
		t.Fatalf("before any database route the call went to %q, want the file's route", got)
	}

	b.login("admin", "admin-secret-password", "admin")
	b.navigate("/routing", chromedp.WaitVisible(chromedp.ID("add-gateway")))
	for name, gw := range map[string]*testenv.SIPp{"carrier-a": gwA, "carrier-b": gwB} {
		b.run("add gateway "+name,
			chromedp.SendKeys(chromedp.CSS(`#add-gateway input[name="name"]`), name),
			chromedp.SendKeys(chromedp.CSS(`#add-gateway input[name="address"]`), gw.Addr()),
			chromedp.Click(chromedp.CSS(`#add-gateway button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#gateways tr[data-name="`+name+`"]`)))
	}
	b.run("add a route over both",
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="name"]`), "db-us"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="prefix"]`), "1"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="gateways"]`), "carrier-a, carrier-b"),
		chromedp.Click(chromedp.CSS(`#add-route button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-name="db-us"]`)))
	added := time.Now()
	applied := func(want string) {
		t.Helper()
		testenv.Eventually(t, time.Second, "the switch to route by "+want, func() bool {
			r := b.fetch("GET", "/api/v1/config", "")
			return r.Status == http.StatusOK && strings.Contains(r.Body, want)
		})
	}
	applied(gwA.Addr())
	t.Logf("route applied %v after the form was answered", time.Since(added).Round(time.Millisecond))
	if got := call("12125550101", 2); got != "db-us "+gwA.Addr() {
		t.Fatalf("the call after the route was added went to %q, want carrier-a", got)
	}

	b.run("disable carrier-a",
		chromedp.Click(chromedp.CSS(`#gateways tr[data-name="carrier-a"] form[action$="/disable"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#gateways tr[data-name="carrier-a"] form[action$="/enable"]`)))
	testenv.Eventually(t, time.Second, "carrier-a out of the switch's routes", func() bool {
		r := b.fetch("GET", "/api/v1/config", "")
		return r.Status == http.StatusOK && !strings.Contains(r.Body, gwA.Addr())
	})
	if got := call("12125550102", 3); got != "db-us "+gwB.Addr() {
		t.Fatalf("the call after carrier-a was disabled went to %q, want carrier-b", got)
	}
	// A probed gateway that answers nothing shows down and the hunt skips
	// it: the call goes to the next gateway with a single attempt.
	b.run("add a probed gateway that answers nothing",
		chromedp.SendKeys(chromedp.CSS(`#add-gateway input[name="name"]`), "carrier-dead"),
		chromedp.SendKeys(chromedp.CSS(`#add-gateway input[name="address"]`), dead),
		chromedp.Click(chromedp.CSS(`#add-gateway input[name="probe"]`)),
		chromedp.Click(chromedp.CSS(`#add-gateway button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#gateways tr[data-name="carrier-dead"]`)))
	b.run("add a route trying it first",
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="name"]`), "db-uk"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="prefix"]`), "44"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="gateways"]`), "carrier-dead, carrier-b"),
		chromedp.Click(chromedp.CSS(`#add-route button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-name="db-uk"]`)))
	testenv.Eventually(t, 5*time.Second, "the probed gateway to show down", func() bool {
		b.navigate("/routing", chromedp.WaitVisible(chromedp.ID("health")))
		return b.count(`#health tr[data-address="`+dead+`"] .state.bad`) == 1
	})
	if h := b.fetch("GET", "/api/v1/gateways/health", ""); !strings.Contains(h.Body, `"up": false`) {
		t.Errorf("the API's gateway health: %s", h.Body)
	}
	if got := call("442071838751", 4); got != "db-uk "+gwB.Addr() {
		t.Fatalf("the call past the down gateway went to %q, want carrier-b", got)
	}
	if n := query(t, dsn, "SELECT jsonb_array_length(attempts) AS n FROM cdrs WHERE called_received = '442071838751'")[0]["n"]; n != int32(1) && n != int64(1) {
		t.Errorf("the call past the down gateway made %v attempts, want 1", n)
	}
	// A route of db-us's prefix for London callers only, its caller prefix
	// filled in the form: within a second it takes their calls, and the
	// other callers' stay on db-us.
	b.navigate("/routing", chromedp.WaitVisible(chromedp.ID("add-route")))
	b.run("add a route for callers of 4420",
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="name"]`), "db-us-london"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="prefix"]`), "1"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="caller_prefix"]`), "4420"),
		chromedp.SendKeys(chromedp.CSS(`#add-route input[name="gateways"]`), "carrier-b"),
		chromedp.Click(chromedp.CSS(`#add-route button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-name="db-us-london"]`)))
	added = time.Now()
	applied(`"caller_prefix": "4420"`)
	t.Logf("caller-prefix route applied %v after the form was answered", time.Since(added).Round(time.Millisecond))
	if got := callFrom("442071838750", "12125550104", 5); got != "db-us-london "+gwB.Addr() {
		t.Errorf("a London caller's call went to %q, want db-us-london", got)
	}
	if got := callFrom("33140000000", "12125550105", 6); got != "db-us "+gwB.Addr() {
		t.Errorf("a Paris caller's call went to %q, want db-us", got)
	}
	b.screenshot("routing")

	// Per-gateway statistics from the CDRs: each gateway the calls reached
	// shows its ASR, and its ACD is the mean duration of its records.
	b.navigate("/stats?by=gateway&range=1h", chromedp.WaitVisible(chromedp.ID("stats")))
	for _, gw := range []struct{ name, addr string }{{"carrier-a", gwA.Addr()}, {"carrier-b", gwB.Addr()}} {
		ms := query(t, dsn, "SELECT avg(duration_ms)::float8 AS ms FROM cdrs WHERE gateway = $1", gw.addr)[0]["ms"].(float64)
		row := `#stats tr[data-name="` + gw.addr + `"]`
		if got := b.text(row + " td:first-child"); !strings.Contains(got, "("+gw.name+")") {
			t.Errorf("%s's statistics are labelled %q", gw.name, got)
		}
		if got := b.text(row + " .asr"); got != "100.0%" {
			t.Errorf("%s's ASR shows %q, want 100.0%%", gw.name, got)
		}
		if got, want := b.text(row+" .acd"), fmt.Sprintf("%.1f s", ms/1000); got != want {
			t.Errorf("%s's ACD shows %q, want %q", gw.name, got, want)
		}
	}
	if n := b.count(`#stats tr[data-name="` + dead + `"]`); n != 0 {
		t.Errorf("the gateway skipped while down has a statistics line")
	}
	b.screenshot("stats")

	b.navigate("/audit", chromedp.WaitVisible(chromedp.ID("audit")))
	if audit := b.text("#audit"); !strings.Contains(audit, "gateway change") || !strings.Contains(audit, "route add") {
		t.Errorf("the audit log lacks the routing changes:\n%s", audit)
	}
	b.logout()

	b.login("viewer", "viewer-secret-password", "viewer")
	b.navigate("/routing", chromedp.WaitVisible(chromedp.ID("routes")))
	if n := b.count(`#add-gateway, #add-route, #gateways form, #routes form`); n != 0 {
		t.Errorf("the viewer's routing page offers %d forms", n)
	}
	for _, r := range []fetchResult{b.fetch("POST", "/routing/gateways/1/enable", "form"), b.fetch("POST", "/routing/routes/1/delete", "form"),
		b.fetch("DELETE", "/api/v1/gateways/2", "header")} {
		if r.Status != http.StatusForbidden {
			t.Errorf("viewer's routing change answered %d %q, want 403", r.Status, r.Body)
		}
	}
	b.checkConsole()
}
