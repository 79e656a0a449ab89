package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// webSession is a user logged in to one node's web UI over plain
// HTTP on loopback. The session cookie is Secure, which Go's cookie jar
// keeps from plain HTTP, so it is carried by hand as a browser on
// loopback would.
type webSession struct {
	t      *testing.T
	base   string
	cookie string
	csrf   string
}

var dataCSRF = regexp.MustCompile(`data-csrf="([^"]+)"`)

func loginWeb(t *testing.T, p *proc, name, password string) *webSession {
	t.Helper()
	s := &webSession{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", p.webPort)}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(s.base+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "tollgate_session" {
			s.cookie = c.Name + "=" + c.Value
		}
	}
	if res.StatusCode != http.StatusSeeOther || s.cookie == "" {
		t.Fatalf("login %s: %d, session cookie %q", name, res.StatusCode, s.cookie)
	}
	code, page := s.do(http.MethodGet, "/calls")
	m := dataCSRF.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("calls page: %d, no CSRF token", code)
	}
	s.csrf = m[1]
	return s
}

func (s *webSession) do(method, path string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, nil)
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-CSRF-Token", s.csrf)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestClusterViewAcrossNodes: three real Tollgates sharing Redis, a call
// up on two of them. The API of the third lists both calls with their
// nodes and all three nodes' health, and kills each call on its node: the
// callers get their BYE, the kills are in the audit log.
func TestClusterViewAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	r := testenv.StartRedis(t)
	gw := uas(t, "uas.xml", nil)
	nodes := map[string]*proc{}
	for _, name := range []string{"view-x", "view-y", "view-z"} {
		nodes[name] = startTollgate(t, fmt.Sprintf(`cluster:
  node: %s
  redis: {address: %q}
routes:
  - {name: gw, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
`, name, r.Addr, gw.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
	}
	addUser(t, nodes["view-x"].cfg, dsn, "boss", "admin", "boss-secret-password")
	callers := map[string]*testenv.SIPp{}
	for _, name := range []string{"view-y", "view-z"} {
		callers[name] = testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: nodes[name].addr(),
			Service: "1001", Calls: 1, Timeout: 90 * time.Second})
	}
	web := loginWeb(t, nodes["view-x"], "boss", "boss-secret-password")

	type listed struct {
		Calls []struct{ ID, Node, State string }
		Nodes []struct{ Node, Admission, Error string }
	}
	var l listed
	testenv.Eventually(t, 30*time.Second, "both calls connected, listed on view-x with all three nodes", func() bool {
		code, body := web.do(http.MethodGet, "/api/v1/calls")
		l = listed{}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil || len(l.Nodes) != 3 || len(l.Calls) != 2 {
			return false
		}
		for _, c := range l.Calls {
			if c.State != "connected" {
				return false
			}
		}
		return true
	})
	for _, n := range l.Nodes {
		if n.Admission != "admitting" || n.Error != "" {
			t.Errorf("node %+v, want admitting and answering", n)
		}
	}
	for _, c := range l.Calls {
		if callers[c.Node] == nil {
			t.Fatalf("call %s listed on node %q, want view-y or view-z", c.ID, c.Node)
		}
		if code, body := web.do(http.MethodDelete, "/api/v1/calls/"+c.ID+"?node="+c.Node); code != http.StatusOK {
			t.Fatalf("kill %s on %s through view-x: %d %s", c.ID, c.Node, code, body)
		}
		waitCaller(t, callers[c.Node], "the caller on "+c.Node+" hung up by view-x's API")
	}
	code, audit := web.do(http.MethodGet, "/api/v1/audit")
	if code != http.StatusOK || strings.Count(audit, "on node view-") != 2 {
		t.Errorf("audit log %d %.500s, want both kills naming their node", code, audit)
	}
}
