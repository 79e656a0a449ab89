package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const newPassword = "a much longer new secret"

func passwordForm(current, next, confirm string) url.Values {
	return url.Values{"current": {current}, "password": {next}, "confirm": {confirm}}
}

// TestChangeOwnPasswordPage: the form refuses a missing CSRF token, a wrong
// current password, a short or mistyped new one; a good change keeps this
// session, logs the user's other sessions out, leaves other users alone,
// and is audited.
func TestChangeOwnPasswordPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1, v2, op := e.login("viewer"), e.login("viewer"), e.login("operator")
	if p := v1.get("/account"); p.StatusCode != 200 || !strings.Contains(p.body, `id="change-password"`) || !strings.Contains(p.body, `name="csrf"`) {
		t.Fatalf("account page %d", p.StatusCode)
	}

	cases := []struct {
		name string
		form url.Values
		code int
		says string
	}{
		{"no CSRF token", url.Values{"csrf": {""}, "current": {testPassword}, "password": {newPassword}, "confirm": {newPassword}}, http.StatusForbidden, "did not come from this site"},
		{"forged CSRF token", url.Values{"csrf": {"forged"}, "current": {testPassword}, "password": {newPassword}, "confirm": {newPassword}}, http.StatusForbidden, "did not come from this site"},
		{"wrong current password", passwordForm("not the password", newPassword, newPassword), http.StatusForbidden, "current password is wrong"},
		{"too short", passwordForm(testPassword, "short", "short"), http.StatusBadRequest, "at least 12 characters"},
		{"too long", passwordForm(testPassword, strings.Repeat("x", 73), strings.Repeat("x", 73)), http.StatusBadRequest, "at most 72 bytes"},
		{"confirmation differs", passwordForm(testPassword, newPassword, newPassword+"!"), http.StatusBadRequest, "confirmation differ"},
		{"unchanged", passwordForm(testPassword, testPassword, testPassword), http.StatusBadRequest, "is the current one"},
	}
	for _, tc := range cases {
		res := v1.post("/account/password", tc.form)
		if res.StatusCode != tc.code || !strings.Contains(res.body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q: %.300s", tc.name, res.StatusCode, tc.code, tc.says, res.body)
		}
	}
	// Nothing changed: the old password still logs in.
	e.login("viewer")

	res := v1.post("/account/password", passwordForm(testPassword, newPassword, newPassword))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("change = %d %s", res.StatusCode, res.body)
	}
	if p := v1.get("/account"); p.StatusCode != 200 || !strings.Contains(p.body, "password changed") {
		t.Fatalf("this session after the change: %d", p.StatusCode)
	}
	// The form token of this session still works.
	if p := v1.post("/account/password", passwordForm("wrong again", newPassword+"2", newPassword+"2")); p.StatusCode != http.StatusForbidden || !strings.Contains(p.body, "current password is wrong") {
		t.Fatalf("this session's form after the change = %d", p.StatusCode)
	}
	if p := v2.get("/calls"); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Fatalf("the other session after the change = %d %s", p.StatusCode, p.Header.Get("Location"))
	}
	if p := v2.send(http.MethodGet, "/api/v1/me"); p.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the other session's API after the change = %d", p.StatusCode)
	}
	if p := op.get("/calls"); p.StatusCode != 200 {
		t.Fatalf("another user's session = %d", p.StatusCode)
	}
	if res := e.anon().post("/login", url.Values{"name": {"viewer"}, "password": {testPassword}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login with the old password = %d", res.StatusCode)
	}
	if res := e.anon().post("/login", url.Values{"name": {"viewer"}, "password": {newPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the new password = %d", res.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	for _, want := range []string{"password change failed viewer viewer", "password change viewer viewer"} {
		if !strings.Contains(acts, want) {
			t.Errorf("audit log lacks %q:\n%s", want, acts)
		}
	}
}

// TestChangeOwnPasswordAPI: the same through /api/v1/me/password, with an
// API token and with a session (which must send X-CSRF-Token).
func TestChangeOwnPasswordAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.login("operator")
	api := e.anon()
	secret, _, err := e.srv.store.addToken(context.Background(), 2, "ci") // user 2 is the operator
	if err != nil {
		t.Fatal(err)
	}
	api.tok = secret
	post := func(c *client, body string, csrf bool) response {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/me/password", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if csrf {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
		return c.do(req)
	}
	good := `{"current_password": "` + testPassword + `", "new_password": "` + newPassword + `"}`
	for _, tc := range []struct {
		name string
		c    *client
		body string
		csrf bool
		code int
		says string
	}{
		{"session without X-CSRF-Token", op, good, false, http.StatusForbidden, "X-CSRF-Token"},
		{"not JSON", api, "current=x", false, http.StatusBadRequest, "JSON object"},
		{"unknown field", api, `{"password": "x"}`, false, http.StatusBadRequest, "JSON object"},
		{"wrong current password", api, `{"current_password": "nope", "new_password": "` + newPassword + `"}`, false, http.StatusForbidden, "current password is wrong"},
		{"too short", api, `{"current_password": "` + testPassword + `", "new_password": "short"}`, false, http.StatusBadRequest, "at least 12"},
		{"anonymous", e.anon(), good, false, http.StatusUnauthorized, "log in"},
	} {
		res := post(tc.c, tc.body, tc.csrf)
		if res.StatusCode != tc.code || !strings.Contains(res.body, tc.says) || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d, want %d saying %q: %s", tc.name, res.StatusCode, tc.code, tc.says, res.body)
		}
	}
	if res := post(op, good, true); res.StatusCode != 200 || !strings.Contains(res.body, "password changed") {
		t.Fatalf("change with the session = %d %s", res.StatusCode, res.body)
	}
	if res := op.get("/calls"); res.StatusCode != 200 {
		t.Fatalf("the changing session afterwards = %d", res.StatusCode)
	}
	// With the token: every session of the user ends, the token goes on.
	back := `{"current_password": "` + newPassword + `", "new_password": "` + testPassword + `!"}`
	if res := post(api, back, false); res.StatusCode != 200 {
		t.Fatalf("change with the token = %d %s", res.StatusCode, res.body)
	}
	if res := op.get("/calls"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session after a change through a token = %d", res.StatusCode)
	}
	if res := api.get("/api/v1/me"); res.StatusCode != 200 {
		t.Fatalf("the token after the change = %d", res.StatusCode)
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, "password change operator (API token) operator") {
		t.Errorf("audit log:\n%s", acts)
	}
}
