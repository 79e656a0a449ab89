package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRegistrationsInChromium: two SIPp clients register through the
// registration cache of the real tollgate (a SIPp registrar upstream); in
// a real Chromium an admin sees both on the Registrations page — AoR,
// contact, flow, expiry, user agent — and removes one with its button; a
// viewer sees the other and is refused the removal, in the page and over
// HTTP.
func TestRegistrationsInChromium(t *testing.T) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	registrar := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml", Timeout: 90 * time.Second})
	webAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t))
	p := startTollgate(t, fmt.Sprintf(`registration:
  mode: cache
  upstream: %q
cdr:
  migrate: true
web:
  listen: %q
`, registrar.Addr(), webAddr), "TOLLGATE_CDR_DATABASE="+dsn)
	base := "http://" + webAddr
	waitHealthy(t, base)
	addUser(t, p.cfg, dsn, "admin", "admin", "admin-secret-password")
	addUser(t, p.cfg, dsn, "viewer", "viewer", "viewer-secret-password")

	ports := map[string]int{}
	for _, user := range []string{"alice", "bob"} {
		ports[user] = testenv.FreePort(t)
		testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: p.addr(), Port: ports[user],
			Service: user, Calls: 1, Pause: 60 * time.Second, Timeout: 90 * time.Second,
			Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(ports[user])}})
	}

	b := newBrowser(t, base)
	b.login("admin", "admin-secret-password", "admin")
	b.navigate("/registrations", chromedp.WaitVisible(chromedp.ID("registrations")))
	row := func(user string) string {
		return `[...document.querySelectorAll("#registrations tbody tr[data-id]")].find(r => r.cells[0].textContent === "` + user + `@127.0.0.1")`
	}
	// The page is drawn by the server: reload it until both are there.
	testenv.Eventually(t, 10*time.Second, "alice and bob on the page", func() bool {
		b.navigate("/registrations", chromedp.WaitVisible(chromedp.ID("registrations")))
		return b.count(`#registrations tbody tr[data-id]`) == 2
	})
	for _, user := range []string{"alice", "bob"} {
		cells := evaluate[[]string](b, "read "+user+"'s row", `[...`+row(user)+`.cells].map(c => c.textContent.trim())`)
		want := []string{user + "@127.0.0.1", fmt.Sprintf("sip:%s@127.0.0.1:%d;transport=UDP", user, ports[user]),
			fmt.Sprintf("udp 127.0.0.1:%d", ports[user]), "", "SIPp reg_client"}
		if len(cells) < 5 || cells[0] != want[0] || cells[1] != want[1] || cells[2] != want[2] || cells[4] != want[4] {
			t.Fatalf("%s's row %q, want AoR, contact, flow and user agent %q", user, cells, want)
		}
		// max_ua_expires (60 s by default) is what a client gets.
		if left := cells[3]; left < "0:01" || left > "1:00" {
			t.Errorf("%s expires in %q, want within a minute", user, left)
		}
	}
	b.screenshot("registrations")

	id := evaluate[string](b, "alice's registration id", row("alice")+".dataset.id")
	b.run("remove alice",
		chromedp.Click(chromedp.CSS(`#registrations tr[data-id="`+id+`"] form.remove button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if flash := b.text(".flash"); flash != "registration "+id+" removed" {
		t.Fatalf("after the removal the page says %q", flash)
	}
	if n := b.count(`#registrations tr[data-id="` + id + `"]`); n != 0 {
		t.Fatal("alice is still listed after her removal")
	}
	if r := b.fetch("GET", "/api/v1/registrations", ""); r.Status != http.StatusOK || strings.Contains(r.Body, id) || !strings.Contains(r.Body, "bob@127.0.0.1") {
		t.Fatalf("the API after the removal: %d %s", r.Status, r.Body)
	}
	b.logout()

	b.login("viewer", "viewer-secret-password", "viewer")
	b.navigate("/registrations", chromedp.WaitVisible(chromedp.ID("registrations")))
	bob := evaluate[string](b, "bob's registration id", row("bob")+".dataset.id")
	if n := b.count(`#registrations form.remove, #registrations button`); n != 0 {
		t.Fatalf("the viewer sees %d remove buttons", n)
	}
	for what, r := range map[string]fetchResult{
		"the remove form's POST": b.fetch("POST", "/registrations/"+bob+"/remove", "form"),
		"the API's DELETE":       b.fetch("DELETE", "/api/v1/registrations/"+bob, "header"),
	} {
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "needs ") {
			t.Errorf("viewer: %s answered %d %q, want 403 naming the role needed", what, r.Status, r.Body)
		}
	}
	if r := b.fetch("GET", "/api/v1/registrations", ""); !strings.Contains(r.Body, bob) {
		t.Fatalf("after the viewer's refused removals bob is gone: %s", r.Body)
	}
	b.checkConsole()
}

// evaluate runs a script in the page and returns its value.
func evaluate[T any](b *ui, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
	}
	return v
}
