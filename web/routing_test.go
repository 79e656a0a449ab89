package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/routing"
)

// TestRoutingAPI: gateways and routes created, changed and deleted through
// /api/v1 with an admin's token, each field's error named, every change
// audited with its before and after and no password anywhere.
func TestRoutingAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secret, _, err := e.srv.store.addToken(context.Background(), 1, "ops")
	if err != nil {
		t.Fatal(err)
	}
	api := e.anon()
	api.tok = secret
	call := func(method, path, body string) response {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return api.do(req)
	}
	res := call(http.MethodPost, "/api/v1/gateways", `{"name": "<b>x</b>", "address": "nohost", "transport": "sctp", "max_calls": -1, "max_cps": 1e9}`)
	var bad struct {
		Fields map[string]string `json:"fields"`
	}
	if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(res.body), &bad) != nil ||
		bad.Fields["address"] == "" || bad.Fields["transport"] == "" || bad.Fields["max_calls"] == "" || bad.Fields["max_cps"] == "" {
		t.Fatalf("invalid gateway = %d %s", res.StatusCode, res.body)
	}
	res = call(http.MethodPost, "/api/v1/gateways", `{"name": "carrier-a", "address": "127.0.0.1:5070", "auth_user": "u", "auth_password": "s3cret", "max_calls": 30, "max_cps": 2.5}`)
	var gw struct {
		ID       int64   `json:"id"`
		Enabled  bool    `json:"enabled"`
		MaxCalls int     `json:"max_calls"`
		MaxCPS   float64 `json:"max_cps"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &gw) != nil || !gw.Enabled || strings.Contains(res.body, "s3cret") ||
		gw.MaxCalls != 30 || gw.MaxCPS != 2.5 {
		t.Fatalf("add gateway = %d %s", res.StatusCode, res.body)
	}
	res = call(http.MethodPost, "/api/v1/routes", `{"name": "uk", "prefix": "44", "gateways": ["carrier-a"], "no_progress": "2s"}`)
	var rt struct {
		ID         int64    `json:"id"`
		Gateways   []string `json:"gateways"`
		NoProgress string   `json:"no_progress"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &rt) != nil || rt.NoProgress != "2s" || len(rt.Gateways) != 1 {
		t.Fatalf("add route = %d %s", res.StatusCode, res.body)
	}
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk2", "prefix": "44", "gateways": ["carrier-a"]}`); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, `"prefix"`) {
		t.Errorf("duplicate prefix = %d %s", r.StatusCode, r.body)
	}
	// The same prefix for some callers only: the match criteria, each
	// field's error named, the sources written canonical, the change
	// audited with them.
	res = call(http.MethodPost, "/api/v1/routes", `{"name": "uk-bad", "prefix": "44", "caller_prefix": "anonymous", "source": ["10.1.2.3/8"], "priority": 9999999999, "gateways": ["carrier-a"]}`)
	if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(res.body), &bad) != nil ||
		bad.Fields["caller_prefix"] == "" || !strings.Contains(bad.Fields["source"], "host bits") || bad.Fields["priority"] == "" {
		t.Errorf("invalid criteria = %d %s", res.StatusCode, res.body)
	}
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk-x", "prefix": "44", "interface": "nowhere", "gateways": ["carrier-a"]}`); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, `"interface": "\"nowhere\": no such interface; want one of default`) {
		t.Errorf("an unknown interface = %d %s", r.StatusCode, r.body)
	}
	res = call(http.MethodPost, "/api/v1/routes", `{"name": "uk-fr", "prefix": "44", "caller_prefix": "33", "source": ["198.51.100.0/24", "192.0.2.7/32"], "interface": "default", "priority": 5, "gateways": ["carrier-a"]}`)
	var crit struct {
		ID           int64    `json:"id"`
		CallerPrefix string   `json:"caller_prefix"`
		Source       []string `json:"source"`
		Interface    string   `json:"interface"`
		Priority     int      `json:"priority"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &crit) != nil || crit.CallerPrefix != "33" ||
		strings.Join(crit.Source, " ") != "192.0.2.7 198.51.100.0/24" || crit.Interface != "default" || crit.Priority != 5 {
		t.Fatalf("add a route with criteria = %d %s", res.StatusCode, res.body)
	}
	if r := call(http.MethodPut, "/api/v1/routes/"+jsonInt(crit.ID), `{"name": "uk-fr", "prefix": "44", "caller_prefix": "331", "priority": -1, "gateways": ["carrier-a"]}`); r.StatusCode != 200 ||
		!strings.Contains(r.body, `"caller_prefix": "331"`) || !strings.Contains(r.body, `"source": []`) || !strings.Contains(r.body, `"priority": -1`) {
		t.Errorf("put a route's criteria = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodGet, "/api/v1/routes", ""); !strings.Contains(r.body, `"caller_prefix": "331"`) || !strings.Contains(r.body, `"source": []`) {
		t.Errorf("routes = %s", r.body)
	}
	if r := call(http.MethodDelete, "/api/v1/routes/"+jsonInt(crit.ID), ""); r.StatusCode != 200 {
		t.Errorf("delete the route with criteria = %d", r.StatusCode)
	}
	gid := "/api/v1/gateways/" + jsonInt(gw.ID)
	if r := call(http.MethodPut, gid, `{"name": "carrier-a", "address": "127.0.0.1:5072", "transport": "tls", "auth_user": "u", "enabled": false}`); r.StatusCode != 200 ||
		!strings.Contains(r.body, `"auth_password_set": true`) || !strings.Contains(r.body, `"enabled": false`) || !strings.Contains(r.body, `"transport": "tls"`) {
		t.Errorf("put gateway = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodDelete, gid, ""); r.StatusCode != http.StatusConflict {
		t.Errorf("delete a gateway in use = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodDelete, "/api/v1/routes/"+jsonInt(rt.ID), ""); r.StatusCode != 200 {
		t.Errorf("delete route = %d", r.StatusCode)
	}
	if r := call(http.MethodDelete, gid, ""); r.StatusCode != 200 {
		t.Errorf("delete gateway = %d", r.StatusCode)
	}
	if r := call(http.MethodGet, gid, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("deleted gateway = %d", r.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"gateway add admin (API token) carrier-a", "route add admin (API token) uk",
		"gateway change admin (API token) carrier-a", "route delete admin (API token) uk", "gateway delete admin (API token) carrier-a"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
	var details string
	if err := e.db.QueryRow(context.Background(), "SELECT string_agg(detail, ' ') FROM audit_log WHERE action = 'gateway change'").Scan(&details); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, `"before"`) || !strings.Contains(details, "5070") || !strings.Contains(details, "5072") || strings.Contains(details, "s3cret") {
		t.Errorf("gateway change detail %s: want before and after, no password", details)
	}
	if err := e.db.QueryRow(context.Background(), "SELECT string_agg(detail, ' ') FROM audit_log WHERE action = 'route change' AND target = 'uk-fr'").Scan(&details); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"caller_prefix":"33"`, `"caller_prefix":"331"`, `"source":["192.0.2.7","198.51.100.0/24"]`, `"interface":"default"`, `"priority":5`, `"priority":-1`} {
		if !strings.Contains(details, want) {
			t.Errorf("route change detail lacks %s: %s", want, details)
		}
	}
}

// TestRoutingUI: an admin adds and disables a gateway and a route from the
// Routing page, what was typed is shown escaped, and a viewer sees the
// tables but can change nothing.
func TestRoutingUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	if r := a.post("/routing/gateways", url.Values{"name": {"<script>gw</script>"}, "address": {"127.0.0.1:5070"}, "transport": {"udp"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add gateway = %d %s", r.StatusCode, r.body)
	}
	if r := a.post("/routing/routes", url.Values{"name": {"uk"}, "prefix": {"44"}, "gateways": {"<script>gw</script>"}, "hunt_stop": {"486, 603"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add route = %d %s", r.StatusCode, r.body)
	}
	if r := a.post("/routing/gateways", url.Values{"name": {"capped"}, "address": {"127.0.0.1:5071"}, "transport": {"udp"}, "max_calls": {"ten"}, "max_cps": {"fast"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "max_calls") || !strings.Contains(r.body, "max_cps") {
		t.Errorf("a gateway with a capacity in words = %d", r.StatusCode)
	}
	if r := a.post("/routing/gateways", url.Values{"name": {"capped"}, "address": {"127.0.0.1:5071"}, "transport": {"udp"}, "max_calls": {"10"}, "max_cps": {"2.5"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a gateway with a capacity = %d %s", r.StatusCode, r.body)
	}
	if r := a.post("/routing/routes", url.Values{"name": {"bad"}, "prefix": {"4x"}, "gateways": {"none"}, "hunt_stop": {"abc"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "hunt_stop") {
		t.Errorf("invalid route = %d", r.StatusCode)
	}
	if r := a.post("/routing/routes", url.Values{"name": {"bad"}, "prefix": {"44"}, "gateways": {"capped"}, "priority": {"high"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "priority") {
		t.Errorf("a priority in words = %d", r.StatusCode)
	}
	if r := a.post("/routing/routes", url.Values{"name": {"uk-peer"}, "prefix": {"44"}, "caller_prefix": {"+33"}, "source": {"192.0.2.0/24, 2001:db8::1"},
		"interface": {"default"}, "priority": {"7"}, "gateways": {"capped"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a route with criteria = %d %s", r.StatusCode, r.body)
	}
	if r := a.post("/routing/gateways/1/disable", url.Values{"csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("disable with a forged form token = %d", r.StatusCode)
	}
	if r := a.post("/routing/gateways/1/disable", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable = %d", r.StatusCode)
	}
	page := a.get("/routing")
	if page.StatusCode != 200 || strings.Contains(page.body, "<script>gw") || !strings.Contains(page.body, "&lt;script&gt;gw") ||
		!strings.Contains(page.body, "disabled") {
		t.Errorf("routing page = %d", page.StatusCode)
	}
	if !strings.Contains(page.body, `data-address="127.0.0.1:5080"`) || !strings.Contains(page.body, ">down<") {
		t.Errorf("the routing page lacks the probed gateway's state")
	}
	if !strings.Contains(page.body, `caller <span class="mono">&#43;33…</span><br>from <span class="mono">192.0.2.0/24, 2001:db8::1</span><br>on interface <span class="mono">default</span></td>
<td class="num priority">7</td>`) || !strings.Contains(page.body, `class="muted small route-rule">Among the routes that match a call`) {
		t.Errorf("the routing page lacks the route's criteria or the rule:\n%s", page.body)
	}
	if !strings.Contains(page.body, `<td class="num max-calls">10</td><td class="num max-cps">2.5</td>`) {
		t.Errorf("the routing page lacks the capped gateway's limits")
	}
	if !strings.Contains(page.body, `<td class="num skipped-full">3</td><td class="num skipped-rate">4</td>`) {
		t.Errorf("the routing page lacks the gateway load")
	}
	m := a.get("/metrics")
	for _, want := range []string{`tollgate_gateway_up{gateway="127.0.0.1:5080",transport="udp"} 0`, `tollgate_gateway_calls{gateway="127.0.0.1:5080",transport="udp"} 1`,
		`tollgate_gateway_skipped_total{gateway="127.0.0.1:5080",reason="capacity",transport="udp"} 3`,
		`tollgate_gateway_skipped_total{gateway="127.0.0.1:5080",reason="rate",transport="udp"} 4`} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if l := a.get("/api/v1/gateways/load"); l.StatusCode != 200 || !strings.Contains(l.body, `"skipped_full": 3`) {
		t.Errorf("gateway load = %d %s", l.StatusCode, l.body)
	}
	if h := a.get("/api/v1/gateways/health"); h.StatusCode != 200 || !strings.Contains(h.body, `"up": false`) {
		t.Errorf("gateway health = %d %s", h.StatusCode, h.body)
	}
	// The edit pages: each field refilled (escaped), saved whole, audited
	// with before and after; a bad field names itself and changes nothing.
	edit := a.get("/routing/gateways/2/edit")
	if edit.StatusCode != 200 || !strings.Contains(edit.body, `id="edit-gateway"`) || !strings.Contains(edit.body, `name="max_calls" inputmode="numeric" size="6" placeholder="no limit" value="10"`) {
		t.Errorf("gateway edit page = %d", edit.StatusCode)
	}
	if r := a.get("/routing/gateways/1/edit"); !strings.Contains(r.body, `value="&lt;script&gt;gw&lt;/script&gt;"`) {
		t.Errorf("the edit page does not escape the gateway's name")
	}
	if r := a.post("/routing/gateways/2", url.Values{"name": {"capped"}, "address": {"127.0.0.1:5079"}, "transport": {"udp"}, "max_calls": {"20"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save gateway = %d %s", r.StatusCode, r.body)
	}
	if g, err := e.srv.routing.Gateway(context.Background(), 2); err != nil || g.Address != "127.0.0.1:5079" || g.MaxCalls != 20 || g.MaxCPS != 0 || !g.Enabled {
		t.Errorf("the saved gateway: %+v %v", g, err)
	}
	if r := a.post("/routing/gateways/2", url.Values{"name": {"capped"}, "address": {"nowhere"}, "transport": {"udp"}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "address") {
		t.Errorf("save a bad gateway = %d", r.StatusCode)
	}
	if r := a.get("/routing/routes/1/edit"); r.StatusCode != 200 || !strings.Contains(r.body, `id="edit-route"`) || !strings.Contains(r.body, `value="486, 603"`) {
		t.Errorf("route edit page = %d", r.StatusCode)
	}
	if r := a.get("/routing/routes/2/edit"); !strings.Contains(r.body, `name="caller_prefix" placeholder="empty: any caller" pattern="[0-9+*#]*" value="&#43;33"`) ||
		!strings.Contains(r.body, `value="192.0.2.0/24, 2001:db8::1"`) || !strings.Contains(r.body, `<option value="default" selected>`) ||
		!strings.Contains(r.body, `name="priority" inputmode="numeric" size="6" placeholder="0" value="7"`) {
		t.Errorf("the route edit page does not refill the criteria:\n%s", r.body)
	}
	if r := a.post("/routing/routes/2", url.Values{"name": {"uk-peer"}, "prefix": {"44"}, "source": {"10.1.2.3/8"}, "gateways": {"capped"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "host bits set") {
		t.Errorf("save a route with a bad source = %d", r.StatusCode)
	}
	if r := a.post("/routing/routes/1", url.Values{"name": {"uk"}, "prefix": {"4420"}, "gateways": {"capped, <script>gw</script>"}, "hunt_stop": {"486"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save route = %d %s", r.StatusCode, r.body)
	}
	if rt, err := e.srv.routing.Route(context.Background(), 1); err != nil || rt.Prefix != "4420" || len(rt.Gateways) != 2 || rt.Gateways[0] != "capped" {
		t.Errorf("the saved route: %+v %v", rt, err)
	}
	if actions := strings.Join(e.auditActions(t), "\n"); strings.Count(actions, "gateway change") < 2 || !strings.Contains(actions, "route change") {
		t.Errorf("the audit log lacks the edits:\n%s", actions)
	}

	v := e.login("viewer")
	if r := v.get("/routing"); r.StatusCode != 200 || strings.Contains(r.body, `id="add-gateway"`) || strings.Contains(r.body, "/edit") {
		t.Errorf("viewer's routing page = %d", r.StatusCode)
	}
	if r := v.get("/routing/gateways/1/edit"); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's gateway edit page = %d", r.StatusCode)
	}
	for _, p := range []string{"/routing/gateways", "/routing/gateways/1/enable", "/routing/gateways/1/delete", "/routing/routes/1/delete", "/routing/gateways/1", "/routing/routes/1"} {
		if r := v.post(p, url.Values{"name": {"x"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s = %d", p, r.StatusCode)
		}
	}
	if r := v.send(http.MethodDelete, "/api/v1/routes/1"); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer DELETE route = %d", r.StatusCode)
	}
}

// TestRoutesCSV: routes exported and imported as CSV through the API, an
// import all or nothing with the bad line named, audited; a viewer may
// export but not import.
func TestRoutesCSV(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.srv.routing.CreateGateway(ctx, routing.Gateway{Name: "a", Address: "127.0.0.1:5070", Transport: "udp", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	a := e.login("admin")
	imp := func(c *client, body string) response {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/routes/import", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("X-CSRF-Token", c.csrf)
		return c.do(req)
	}
	if r := imp(a, "name,prefix,gateways\nuk,44,a\nde,49,nope\n"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "line 3") {
		t.Errorf("bad import = %d %s", r.StatusCode, r.body)
	}
	if r := imp(a, "name,prefix,gateways,hunt_stop\nuk,44,a,486\n=cmd,+49,a,\n"); r.StatusCode != 200 || !strings.Contains(r.body, `"created": 2`) {
		t.Fatalf("import = %d %s", r.StatusCode, r.body)
	}
	v := e.login("viewer")
	res := v.get("/api/v1/routes/export.csv")
	if res.StatusCode != 200 || !strings.Contains(res.body, "'=cmd,'+49,,,,,0,a,486 600 603,,,true") || !strings.Contains(res.body, "uk,44,,,,,0,a,486,,,true") {
		t.Errorf("export = %d\n%s", res.StatusCode, res.body)
	}
	// The match columns import, in any order; an interface the switch
	// lacks names its line.
	if r := imp(a, "name,prefix,gateways,interface\nfr,33,a,nowhere\n"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "line 2") || !strings.Contains(r.body, "interface") {
		t.Errorf("import of an unknown interface = %d %s", r.StatusCode, r.body)
	}
	if r := imp(a, "priority,name,prefix,caller_prefix,source,interface,gateways\n-3,fr,33,'+44,192.0.2.9/32 10.0.0.0/8,default,a\n"); r.StatusCode != 200 || !strings.Contains(r.body, `"created": 1`) {
		t.Fatalf("import with the match columns = %d %s", r.StatusCode, r.body)
	}
	if res = v.get("/api/v1/routes/export.csv"); !strings.Contains(res.body, "fr,33,'+44,10.0.0.0/8 192.0.2.9,default,,-3,a,486 600 603,,,true") {
		t.Errorf("export of the match columns:\n%s", res.body)
	}
	if r := imp(v, "name,prefix,gateways\nx,1,a\n"); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer import = %d", r.StatusCode)
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, "routes import admin uk, =cmd") {
		t.Errorf("audit log:\n%s", acts)
	}
}

// TestRoutingSelectedProfile: a route's selected_profile through the API,
// the form, the list, the edit page and the CSV, refused when the running
// configuration has no such profile, part of the match (a second route of
// the same calls is refused), audited before and after.
func TestRoutingSelectedProfile(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(testConfig + "profiles: [{name: gold}, {name: silver}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(o *Options) { o.Switch.(*fakeSwitch).cfg = cfg })
	ctx := context.Background()
	if _, err := e.srv.routing.CreateGateway(ctx, routing.Gateway{Name: "a", Address: "127.0.0.1:5070", Transport: "udp", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := e.srv.store.addToken(ctx, 1, "ops")
	if err != nil {
		t.Fatal(err)
	}
	api := e.anon()
	api.tok = secret
	call := func(method, path, body string) response {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return api.do(req)
	}
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk-x", "prefix": "44", "selected_profile": "bronze", "gateways": ["a"]}`); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, `"selected_profile": "\"bronze\": no such profile; want one of gold, silver (empty: any)"`) {
		t.Errorf("an unknown profile = %d %s", r.StatusCode, r.body)
	}
	res := call(http.MethodPost, "/api/v1/routes", `{"name": "uk-gold", "prefix": "44", "selected_profile": "gold", "gateways": ["a"]}`)
	var rt struct {
		ID              int64  `json:"id"`
		SelectedProfile string `json:"selected_profile"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &rt) != nil || rt.SelectedProfile != "gold" {
		t.Fatalf("add a route with a selected profile = %d %s", res.StatusCode, res.body)
	}
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk-plain", "prefix": "44", "gateways": ["a"]}`); r.StatusCode != http.StatusCreated {
		t.Errorf("a route of the same prefix without a selected profile = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk-gold2", "prefix": "44", "selected_profile": "gold", "gateways": ["a"]}`); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "matches the same calls") {
		t.Errorf("a second route of the same selected profile = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodPut, "/api/v1/routes/"+jsonInt(rt.ID), `{"name": "uk-gold", "prefix": "44", "selected_profile": "silver", "gateways": ["a"]}`); r.StatusCode != 200 ||
		!strings.Contains(r.body, `"selected_profile": "silver"`) {
		t.Errorf("put a route's selected profile = %d %s", r.StatusCode, r.body)
	}
	var details string
	if err := e.db.QueryRow(ctx, "SELECT string_agg(detail, ' ') FROM audit_log WHERE action = 'route change' AND target = 'uk-gold'").Scan(&details); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, `"selected_profile":"gold"`) || !strings.Contains(details, `"selected_profile":"silver"`) {
		t.Errorf("route change detail lacks the selected profile before and after: %s", details)
	}

	a := e.login("admin")
	if r := a.post("/routing/routes", url.Values{"name": {"de-gold"}, "prefix": {"49"}, "selected_profile": {"platinum"}, "gateways": {"a"}}); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "no such profile") {
		t.Errorf("the form with an unknown profile = %d", r.StatusCode)
	}
	if r := a.post("/routing/routes", url.Values{"name": {"de-gold"}, "prefix": {"49"}, "selected_profile": {"gold"}, "gateways": {"a"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the form with a selected profile = %d %s", r.StatusCode, r.body)
	}
	page := a.get("/routing")
	if !strings.Contains(page.body, `<option value="gold">gold</option><option value="silver">silver</option>`) ||
		!strings.Contains(page.body, `profile <span class="mono">gold</span> selected`) ||
		!strings.Contains(page.body, "then a route with a selected profile over one without") {
		t.Errorf("the routing page lacks the profiles, the route's selected profile or the rule:\n%s", page.body)
	}
	if r := a.get("/routing/routes/" + jsonInt(rt.ID) + "/edit"); !strings.Contains(r.body, `<option value="silver" selected>silver</option>`) {
		t.Errorf("the route edit page does not refill the selected profile:\n%s", r.body)
	}

	imp := func(body string) response {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/routes/import", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("X-CSRF-Token", a.csrf)
		return a.do(req)
	}
	if r := imp("name,prefix,gateways,selected_profile\nfr,33,a,bronze\n"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "line 2") ||
		!strings.Contains(r.body, "selected_profile") {
		t.Errorf("import of an unknown profile = %d %s", r.StatusCode, r.body)
	}
	if r := imp("name,prefix,gateways,selected_profile\nfr,33,a,silver\n"); r.StatusCode != 200 || !strings.Contains(r.body, `"created": 1`) {
		t.Fatalf("import with selected_profile = %d %s", r.StatusCode, r.body)
	}
	exp := a.get("/api/v1/routes/export.csv").body
	if !strings.HasPrefix(exp, "name,prefix,caller_prefix,source,interface,selected_profile,priority,") ||
		!strings.Contains(exp, "fr,33,,,,silver,0,a,486 600 603,,,true") || !strings.Contains(exp, "uk-gold,44,,,,silver,0,a,") {
		t.Errorf("export of selected_profile:\n%s", exp)
	}
}
