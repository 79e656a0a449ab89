package web

import (
	"net/http"
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
