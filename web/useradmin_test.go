package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`id="secret">([^<]+)<`)

// TestAdminManagesUsersInTheUI: role, password reset and delete from the
// Users page, each audited, each refused on oneself.
func TestAdminManagesUsersInTheUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	op := e.login("operator") // user 2
	if res := a.post("/users/3/role", url.Values{"role": {"operator"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("role = %d %s", res.StatusCode, res.body)
	}
	if u, _ := e.srv.store.userByID(context.Background(), 3); u.Role != roleOperator {
		t.Fatalf("viewer's role is %s", u.Role)
	}
	if res := a.post("/users/3/role", url.Values{"role": {"root"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("role root = %d", res.StatusCode)
	}
	// A reset shows a new password once; the old one and the user's
	// sessions stop working.
	res := a.post("/users/2/password", nil)
	m := secretRE.FindStringSubmatch(res.body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("reset = %d", res.StatusCode)
	}
	if r := op.get("/calls"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the operator's session after the reset = %d", r.StatusCode)
	}
	if r := e.anon().post("/login", url.Values{"name": {"operator"}, "password": {testPassword}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password after the reset = %d", r.StatusCode)
	}
	if r := e.anon().post("/login", url.Values{"name": {"operator"}, "password": {m[1]}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("new password = %d", r.StatusCode)
	}
	if res := a.post("/users/3/delete", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete = %d", res.StatusCode)
	}
	if r := e.anon().post("/login", url.Values{"name": {"viewer"}, "password": {testPassword}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deleted user's login = %d", r.StatusCode)
	}
	for _, p := range []string{"/users/1/delete", "/users/1/password", "/users/1/role", "/users/1/disable"} {
		if r := a.post(p, url.Values{"role": {"viewer"}}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s on oneself = %d", p, r.StatusCode)
		}
	}
	if r := a.post("/users/99/delete", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("delete 99 = %d", r.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"user role admin viewer", "password reset admin operator", "user delete admin viewer"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
}

// TestLastAdminStays: no change may leave no enabled admin, even one made
// by another admin.
func TestLastAdminStays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id2, err := AddUser(ctx, e.db, "admin2", roleAdmin, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := changeUser(ctx, e.db, id2, userChange{role: roleViewer}); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	yes := true
	for _, c := range []userChange{{delete: true}, {role: roleOperator}, {disabled: &yes}} {
		if _, err := changeUser(ctx, e.db, 1, c); err != errLastAdmin {
			t.Errorf("%+v on the last admin: %v", c, err)
		}
	}
}

// TestUsersAPI: the same through /api/v1/users with an admin's token.
func TestUsersAPI(t *testing.T) {
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
	res := call(http.MethodPost, "/api/v1/users", `{"name": "dave", "role": "viewer"}`)
	var added struct {
		ID       int64  `json:"id"`
		Password string `json:"password"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &added) != nil || len(added.Password) < MinPasswordLen {
		t.Fatalf("add = %d %s", res.StatusCode, res.body)
	}
	if r := call(http.MethodPost, "/api/v1/users", `{"name": "dave", "role": "viewer"}`); r.StatusCode != http.StatusConflict {
		t.Fatalf("add again = %d", r.StatusCode)
	}
	id := "/api/v1/users/" + jsonInt(added.ID)
	var u User
	if r := call(http.MethodPatch, id, `{"role": "operator", "disabled": true}`); r.StatusCode != 200 || json.Unmarshal([]byte(r.body), &u) != nil || u.Role != roleOperator || !u.Disabled {
		t.Fatalf("patch = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodPatch, id, `{"colour": "blue"}`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("patch of an unknown field = %d", r.StatusCode)
	}
	var reset struct{ Password string }
	if r := call(http.MethodPost, id+"/password", ""); r.StatusCode != 200 || json.Unmarshal([]byte(r.body), &reset) != nil || reset.Password == added.Password {
		t.Fatalf("reset = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodPatch, "/api/v1/users/1", `{"role": "viewer"}`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("demoting oneself = %d", r.StatusCode)
	}
	if r := call(http.MethodDelete, id, ""); r.StatusCode != 200 {
		t.Fatalf("delete = %d %s", r.StatusCode, r.body)
	}
	if r := call(http.MethodDelete, id, ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("delete again = %d", r.StatusCode)
	}
	viewer := e.login("viewer")
	if r := viewer.send(http.MethodDelete, "/api/v1/users/2"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer deleting = %d", r.StatusCode)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestTokensAPI: API tokens given, listed and revoked through
// /api/v1/users/{id}/tokens and /api/v1/tokens, as on the Users page:
// the secret shown once, never listed, refused once revoked; audited;
// admins only.
func TestTokensAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.login("admin")
	call := func(c *client, method, path, body string) response {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", c.csrf)
		return c.do(req)
	}
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/api/v1/users/2/tokens", `{"name": ""}`, http.StatusBadRequest},
		{"/api/v1/users/2/tokens", `{"name": "ci", "role": "admin"}`, http.StatusBadRequest},
		{"/api/v1/users/99/tokens", `{"name": "ci"}`, http.StatusNotFound},
	} {
		if r := call(a, http.MethodPost, tc.path, tc.body); r.StatusCode != tc.want {
			t.Errorf("POST %s %s = %d %s, want %d", tc.path, tc.body, r.StatusCode, r.body, tc.want)
		}
	}
	res := call(a, http.MethodPost, "/api/v1/users/2/tokens", `{"name": " ci "}`) // user 2 is the operator
	var added struct {
		ID     int64  `json:"id"`
		UserID int64  `json:"user_id"`
		Name   string `json:"name"`
		Secret string `json:"token"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal([]byte(res.body), &added) != nil || added.UserID != 2 || added.Name != "ci" ||
		!strings.HasPrefix(added.Secret, "tg_") {
		t.Fatalf("add token = %d %s", res.StatusCode, res.body)
	}
	api := e.anon()
	api.tok = added.Secret
	if r := api.get("/api/v1/me"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `"operator"`) {
		t.Fatalf("the new token's /me = %d %s", r.StatusCode, r.body)
	}
	list := a.get("/api/v1/tokens")
	if list.StatusCode != http.StatusOK || !strings.Contains(list.body, `"name": "ci"`) || strings.Contains(list.body, added.Secret) {
		t.Errorf("token list = %d %s", list.StatusCode, list.body)
	}
	v := e.login("viewer")
	if r := v.get("/api/v1/tokens"); r.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's token list = %d", r.StatusCode)
	}
	if r := call(v, http.MethodPost, "/api/v1/users/3/tokens", `{"name": "mine"}`); r.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer giving itself a token = %d", r.StatusCode)
	}
	if r := call(api, http.MethodDelete, "/api/v1/tokens/"+jsonInt(added.ID), ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("an operator's token revoking itself = %d", r.StatusCode)
	}
	if r := call(a, http.MethodDelete, "/api/v1/tokens/"+jsonInt(added.ID), ""); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke = %d %s", r.StatusCode, r.body)
	}
	if r := api.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked token's /me = %d", r.StatusCode)
	}
	if r := call(a, http.MethodDelete, "/api/v1/tokens/"+jsonInt(added.ID), ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("revoke again = %d", r.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"token add admin operator", "token revoke admin 2"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
}
