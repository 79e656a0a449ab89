package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/switch/b2bua"
)

func TestAPIRegistrations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sw.mu.Lock()
	e.sw.regs = []b2bua.RegistrationInfo{{ID: "tg-0123456789abcdef0123", AoR: "alice@example.net",
		Contact: "sip:alice@10.0.0.1:5060", Transport: "udp", Source: "192.0.2.7:40112",
		Expires: time.Now().Add(time.Minute), UserAgent: "Yealink"}}
	e.sw.mu.Unlock()
	viewer := e.login("viewer")
	body := viewer.get("/api/v1/registrations").body
	for _, want := range []string{`"count": 1`, `"aor": "alice@example.net"`, `"source": "192.0.2.7:40112"`, `"user_agent": "Yealink"`} {
		if !strings.Contains(body, want) {
			t.Errorf("registrations lack %s: %s", want, body)
		}
	}
	if res := viewer.send(http.MethodDelete, "/api/v1/registrations/tg-0123456789abcdef0123"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer remove = %d", res.StatusCode)
	}
	op := e.login("operator")
	if res := op.send(http.MethodDelete, "/api/v1/registrations/tg-0123456789abcdef0123"); res.StatusCode != http.StatusOK {
		t.Fatalf("operator remove = %d", res.StatusCode)
	}
	if res := op.send(http.MethodDelete, "/api/v1/registrations/tg-0123456789abcdef0123"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second remove = %d", res.StatusCode)
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, auditUnregister) {
		t.Errorf("audit log lacks the removal:\n%s", acts)
	}
}

// TestRegistrationsPage: every role sees the bindings (a user agent is
// text, never markup); an operator removes one with the form, which needs
// the CSRF token; a viewer gets no button and is refused the form.
func TestRegistrationsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "tg-00112233445566778899"
	e.sw.mu.Lock()
	e.sw.regs = []b2bua.RegistrationInfo{
		{ID: id, AoR: "bob@example.net", Contact: "sip:bob@10.0.0.2:5062", Transport: "tcp",
			Source: "198.51.100.9:50123", Expires: time.Now().Add(90 * time.Second), UserAgent: "<script>alert(1)</script>"},
		{ID: "tg-99887766554433221100", AoR: "carol@example.net", Contact: "sip:carol@10.0.0.3", Transport: "udp",
			Source: "198.51.100.10:5060", Expires: time.Now().Add(time.Minute), UserAgent: "Snom"},
	}
	e.sw.mu.Unlock()
	viewer := e.login("viewer")
	page := viewer.get("/registrations")
	for _, want := range []string{"bob@example.net", "sip:bob@10.0.0.2:5062", "tcp 198.51.100.9:50123", "&lt;script&gt;", "carol@example.net"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("viewer's page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "<script>alert") || strings.Contains(page.body, "/remove") {
		t.Fatal("viewer's page: the user agent as markup, or a remove button")
	}
	if res := viewer.post("/registrations/"+id+"/remove", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer remove = %d", res.StatusCode)
	}
	if page := viewer.get("/registrations?q=snom"); strings.Contains(page.body, "bob@") || !strings.Contains(page.body, "carol@") {
		t.Fatal("filter by user agent")
	}
	op := e.login("operator")
	if page := op.get("/registrations"); !strings.Contains(page.body, "/registrations/"+id+"/remove") {
		t.Fatal("operator sees no remove button")
	}
	if res := op.post("/registrations/"+id+"/remove", url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("remove with a wrong CSRF token = %d", res.StatusCode)
	}
	if len(e.sw.Registrations()) != 2 {
		t.Fatal("a refused form removed a registration")
	}
	if res := op.post("/registrations/"+id+"/remove", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove = %d", res.StatusCode)
	}
	page = op.get("/registrations")
	if strings.Contains(page.body, "bob@example.net") || !strings.Contains(page.body, "removed") {
		t.Fatal("after the removal: bob still listed, or no confirmation")
	}
	if acts := strings.Join(e.auditActions(t), "\n"); !strings.Contains(acts, auditUnregister) {
		t.Errorf("audit log lacks the removal:\n%s", acts)
	}
}

// TestAPISubscribers: an admin adds a subscriber (a generated password is
// answered once), lists it and deletes it; its secret is in no answer;
// a viewer lists but may not add or delete.
func TestAPISubscribers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.login("admin")
	res := admin.postJSON("/api/v1/subscribers", `{"user": "dave", "password": "db-secret"}`)
	if res.StatusCode != http.StatusCreated || strings.Contains(res.body, "db-secret") || strings.Contains(res.body, `"password"`) {
		t.Fatalf("add = %d %s", res.StatusCode, res.body)
	}
	res = admin.postJSON("/api/v1/subscribers", `{"user": "erin"}`)
	if res.StatusCode != http.StatusCreated || !strings.Contains(res.body, `"password": "`) {
		t.Fatalf("add with a generated password = %d %s", res.StatusCode, res.body)
	}
	for body, want := range map[string]int{`{"user": "dave", "password": "x"}`: http.StatusConflict,
		`{"user": "a@b", "password": "x"}`: http.StatusBadRequest, `{"name": "x"}`: http.StatusBadRequest} {
		if res := admin.postJSON("/api/v1/subscribers", body); res.StatusCode != want {
			t.Errorf("%s = %d, want %d", body, res.StatusCode, want)
		}
	}
	viewer := e.login("viewer")
	list := viewer.get("/api/v1/subscribers").body
	if !strings.Contains(list, `"count": 2`) || !strings.Contains(list, `"user": "dave"`) || strings.Contains(list, "db-secret") {
		t.Fatalf("list: %s", list)
	}
	if res := viewer.postJSON("/api/v1/subscribers", `{"user": "mallory", "password": "x"}`); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer add = %d", res.StatusCode)
	}
	if res := viewer.send(http.MethodDelete, "/api/v1/subscribers/dave"); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer delete = %d", res.StatusCode)
	}
	if res := admin.send(http.MethodDelete, "/api/v1/subscribers/dave"); res.StatusCode != http.StatusOK {
		t.Fatalf("delete = %d", res.StatusCode)
	}
	if res := admin.send(http.MethodDelete, "/api/v1/subscribers/dave"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second delete = %d", res.StatusCode)
	}
	acts := strings.Join(e.auditActions(t), "\n")
	if !strings.Contains(acts, auditSubscriberAdd) || !strings.Contains(acts, auditSubscriberDelete) || strings.Contains(acts, "db-secret") {
		t.Errorf("audit log:\n%s", acts)
	}
}

// postJSON posts a JSON body with the session's CSRF token.
func (c *client) postJSON(path, body string) response {
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	return c.do(req)
}
