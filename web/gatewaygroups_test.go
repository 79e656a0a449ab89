package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/routing"
)

// TestGatewayGroupsAPI: a gateway group created, changed and deleted
// through /api/v1/gateway-groups with an admin's token, each bad field
// named, a route naming it as "group:NAME", a gateway in it and the group
// in a route refused deletion with a clear answer, every change audited
// with before and after; a viewer reads and changes nothing.
func TestGatewayGroupsAPI(t *testing.T) {
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
	for _, gw := range []string{
		`{"name": "a", "address": "127.0.0.1:5071", "media": "none"}`,
		`{"name": "b", "address": "127.0.0.1:5072", "media": "builtin"}`,
	} {
		if r := call(http.MethodPost, "/api/v1/gateways", gw); r.StatusCode != http.StatusCreated || !strings.Contains(r.body, `"media"`) {
			t.Fatalf("add gateway = %d %s", r.StatusCode, r.body)
		}
	}
	if r := call(http.MethodPost, "/api/v1/gateways", `{"name": "group:x", "address": "127.0.0.1:5073", "media": "loud"}`); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, `"media"`) || !strings.Contains(r.body, `"name"`) {
		t.Errorf("a gateway named group:x with media loud = %d %s", r.StatusCode, r.body)
	}
	var bad struct {
		Fields map[string]string `json:"fields"`
	}
	for _, body := range []string{
		`{"name": "", "members": []}`,
		`{"name": "c", "members": [{"gateway": "a", "weight": 1001}]}`,
		`{"name": "c", "members": [{"gateway": "a"}, {"gateway": "a"}]}`,
		`{"name": "c", "members": [{"gateway": "nope"}]}`,
	} {
		res := call(http.MethodPost, "/api/v1/gateway-groups", body)
		if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(res.body), &bad) != nil || bad.Fields["members"] == "" {
			t.Errorf("invalid group %s = %d %s", body, res.StatusCode, res.body)
		}
	}
	res := call(http.MethodPost, "/api/v1/gateway-groups", `{"name": "carriers", "members": [{"gateway": "a", "weight": 70}, {"gateway": "b", "priority": 1}]}`)
	var g routing.Group
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &g) != nil || len(g.Members) != 2 ||
		g.Members[0] != (routing.GroupMember{Gateway: "a", Weight: 70}) || g.Members[1] != (routing.GroupMember{Gateway: "b", Weight: 1, Priority: 1}) {
		t.Fatalf("add group = %d %s", res.StatusCode, res.body)
	}
	gid := "/api/v1/gateway-groups/" + jsonInt(g.ID)
	if r := call(http.MethodPost, "/api/v1/routes", `{"name": "uk", "prefix": "44", "gateways": ["group:carriers"]}`); r.StatusCode != http.StatusCreated ||
		!strings.Contains(r.body, `"group:carriers"`) {
		t.Fatalf("add route over the group = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodDelete, "/api/v1/gateways/1", ""); r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "member of a gateway group") {
		t.Errorf("delete a gateway in a group = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodDelete, gid, ""); r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "used by a route") {
		t.Errorf("delete a group in a route = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodPut, gid, `{"name": "carriers", "members": [{"gateway": "b", "weight": 5}]}`); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `"weight": 5`) {
		t.Errorf("put group = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodGet, "/api/v1/gateway-groups", ""); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `"gateway_groups"`) || !strings.Contains(r.body, `"carriers"`) {
		t.Errorf("list groups = %d %s", r.StatusCode, r.body)
	}
	v := e.login("viewer")
	if r := v.get(gid); r.StatusCode != http.StatusOK {
		t.Errorf("viewer GET group = %d", r.StatusCode)
	}
	if r := v.send(http.MethodDelete, gid); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer DELETE group = %d", r.StatusCode)
	}
	if r := v.postJSON("/api/v1/gateway-groups", `{"name": "v", "members": [{"gateway": "a"}]}`); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer POST group = %d", r.StatusCode)
	}
	if r := call(http.MethodDelete, "/api/v1/routes/1", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("delete route = %d", r.StatusCode)
	}
	if r := call(http.MethodDelete, gid, ""); r.StatusCode != http.StatusOK {
		t.Errorf("delete group = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodGet, gid, ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("deleted group = %d", r.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"gateway group add admin (API token) carriers", "gateway group change admin (API token) carriers",
		"gateway group delete admin (API token) carriers"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
	var detail string
	if err := e.db.QueryRow(context.Background(), "SELECT detail FROM audit_log WHERE action = 'gateway group change'").Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, `"before"`) || !strings.Contains(detail, `"weight":70`) || !strings.Contains(detail, `"weight":5`) {
		t.Errorf("group change detail %s: want before and after", detail)
	}
}

// TestGatewayGroupsUI: an admin adds a group on the Gateway groups page
// (empty rows left out, what was typed shown escaped), edits it, and sets
// a gateway's media in the Routing page's form; a viewer sees the groups
// without a form or an edit link and is refused every change.
func TestGatewayGroupsUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	for _, name := range []string{"<i>a</i>", "b"} {
		if r := a.post("/routing/gateways", url.Values{"name": {name}, "address": {"127.0.0.1:5070"}, "transport": {"udp"}, "media": {"none"}, "enabled": {"1"}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("add gateway = %d %s", r.StatusCode, r.body)
		}
	}
	if g, err := e.srv.routing.Gateway(context.Background(), 1); err != nil || g.Media != "none" {
		t.Errorf("the gateway form's media: %+v %v", g, err)
	}
	if r := a.get("/routing/gateways/1/edit"); !strings.Contains(r.body, `<option value="none" selected>`) {
		t.Errorf("the gateway edit page does not show its media")
	}
	form := url.Values{"name": {"<b>carriers</b>"}, "member_gateway": {"<i>a</i>", "", "b"}, "member_weight": {"70", "1", ""}, "member_priority": {"0", "0", "2"}}
	if r := a.post("/gateway-groups", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add group = %d %s", r.StatusCode, r.body)
	}
	g, err := e.srv.routing.Group(context.Background(), 1)
	if err != nil || len(g.Members) != 2 || g.Members[0] != (routing.GroupMember{Gateway: "<i>a</i>", Weight: 70}) || g.Members[1] != (routing.GroupMember{Gateway: "b", Weight: 1, Priority: 2}) {
		t.Fatalf("the group the form made: %+v %v", g, err)
	}
	if r := a.post("/gateway-groups", url.Values{"name": {"x"}, "member_gateway": {"b"}, "member_weight": {"lots"}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "weight") {
		t.Errorf("a weight in words = %d", r.StatusCode)
	}
	page := a.get("/gateway-groups")
	if page.StatusCode != 200 || strings.Contains(page.body, "<b>carriers") || !strings.Contains(page.body, "&lt;b&gt;carriers") ||
		!strings.Contains(page.body, "group:&lt;b&gt;carriers&lt;/b&gt;") || !strings.Contains(page.body, `id="add-group"`) {
		t.Errorf("groups page = %d %s", page.StatusCode, page.body)
	}
	edit := a.get("/gateway-groups/1/edit")
	if edit.StatusCode != 200 || !strings.Contains(edit.body, `id="edit-group"`) || !strings.Contains(edit.body, `value="70"`) {
		t.Errorf("group edit page = %d", edit.StatusCode)
	}
	if r := a.post("/gateway-groups/1", url.Values{"name": {"carriers"}, "member_gateway": {"b"}, "member_weight": {"0"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save group = %d %s", r.StatusCode, r.body)
	}
	if g, _ := e.srv.routing.Group(context.Background(), 1); g.Name != "carriers" || len(g.Members) != 1 || g.Members[0].Weight != 0 {
		t.Errorf("the saved group: %+v", g)
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, "gateway group add") || !strings.Contains(acts, "gateway group change") {
		t.Errorf("the audit log lacks the group's changes:\n%s", acts)
	}

	v := e.login("viewer")
	if r := v.get("/gateway-groups"); r.StatusCode != 200 || strings.Contains(r.body, `id="add-group"`) || strings.Contains(r.body, "/edit") || !strings.Contains(r.body, "carriers") {
		t.Errorf("viewer's groups page = %d", r.StatusCode)
	}
	if r := v.get("/gateway-groups/1/edit"); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's group edit page = %d", r.StatusCode)
	}
	for _, p := range []string{"/gateway-groups", "/gateway-groups/1", "/gateway-groups/1/delete"} {
		if r := v.post(p, url.Values{"name": {"x"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s = %d", p, r.StatusCode)
		}
	}
	if r := a.post("/gateway-groups/1/delete", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("delete group = %d %s", r.StatusCode, r.body)
	}
}
