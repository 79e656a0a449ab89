package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// send is do with a JSON body.
func (s *webSession) send(method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestGatewayGroupByAPI: through the JSON API of the real binary, an admin
// makes three gateways, a group of them — a disabled member of weight
// 1000, a member of weight 1 and a standby — and a route hunting the
// group; within a second SIPp calls go by it, every one to the weighted
// member (the disabled one never tried, the standby only after it); once
// the weighted member is disabled, the next call goes to the standby.
func TestGatewayGroupByAPI(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	fileGW, first, standby, off := uas(t, "uas.xml", nil), uas(t, "uas.xml", nil), uas(t, "uas.xml", nil), uas(t, "uas.xml", nil)
	p := startTollgate(t, fmt.Sprintf(`routes:
  - {name: file-us, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
`, fileGW.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", p.webPort))
	addUser(t, p.cfg, dsn, "ops", "admin", "ops-secret-password")
	s := loginWeb(t, p, "ops", "ops-secret-password")

	ids := map[string]int64{}
	for name, body := range map[string]string{
		"first":   fmt.Sprintf(`{"name": "first", "address": %q}`, first.Addr()),
		"standby": fmt.Sprintf(`{"name": "standby", "address": %q}`, standby.Addr()),
		"off":     fmt.Sprintf(`{"name": "off", "address": %q, "enabled": false}`, off.Addr()),
	} {
		code, res := s.send(http.MethodPost, "/api/v1/gateways", body)
		var g struct{ ID int64 }
		if code != http.StatusCreated || json.Unmarshal([]byte(res), &g) != nil {
			t.Fatalf("add gateway %s = %d %s", name, code, res)
		}
		ids[name] = g.ID
	}
	if code, res := s.send(http.MethodPost, "/api/v1/gateway-groups", `{"name": "carriers", "members": [
		{"gateway": "off", "weight": 1000}, {"gateway": "standby", "weight": 0}, {"gateway": "first"}]}`); code != http.StatusCreated {
		t.Fatalf("add group = %d %s", code, res)
	}
	if code, res := s.send(http.MethodPost, "/api/v1/routes", `{"name": "db-us", "prefix": "1", "gateways": ["group:carriers"]}`); code != http.StatusCreated {
		t.Fatalf("add route = %d %s", code, res)
	}
	added := time.Now()
	testenv.Eventually(t, time.Second, "the switch to hunt the group", func() bool {
		code, cfg := s.do(http.MethodGet, "/api/v1/config")
		return code == http.StatusOK && strings.Contains(cfg, first.Addr())
	})
	t.Logf("group and route applied %v after the API answered", time.Since(added).Round(time.Millisecond))

	calls := int64(0)
	call := func(called string) string {
		t.Helper()
		p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: called, Calls: 1, Rate: 10})
		calls++
		waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs", calls)
		rows := query(t, dsn, "SELECT route, gateway, jsonb_array_length(attempts) AS n FROM cdrs WHERE called_received = $1", called)
		return fmt.Sprintf("%s %s %v", rows[0]["route"], rows[0]["gateway"], rows[0]["n"])
	}
	for i := range 5 {
		if got, want := call(fmt.Sprintf("1212555010%d", i)), "db-us "+first.Addr()+" 1"; got != want {
			t.Fatalf("call %d went %q, want %q: the weighted member, in one attempt", i, got, want)
		}
	}

	code, res := s.send(http.MethodPut, fmt.Sprintf("/api/v1/gateways/%d", ids["first"]),
		fmt.Sprintf(`{"name": "first", "address": %q, "enabled": false}`, first.Addr()))
	if code != http.StatusOK {
		t.Fatalf("disable first = %d %s", code, res)
	}
	testenv.Eventually(t, time.Second, "the disabled member out of the switch's routes", func() bool {
		code, cfg := s.do(http.MethodGet, "/api/v1/config")
		return code == http.StatusOK && !strings.Contains(cfg, first.Addr())
	})
	if got, want := call("12125550199"), "db-us "+standby.Addr()+" 1"; got != want {
		t.Fatalf("the call after the member was disabled went %q, want %q: the standby", got, want)
	}
	if n := len(query(t, dsn, "SELECT 1 FROM cdrs WHERE gateway = $1", off.Addr())); n != 0 {
		t.Errorf("the disabled member of weight 1000 got %d calls", n)
	}
	if code, res := s.send(http.MethodDelete, fmt.Sprintf("/api/v1/gateways/%d", ids["off"]), ""); code != http.StatusConflict ||
		!strings.Contains(res, "member of a gateway group") {
		t.Errorf("delete a group's gateway = %d %s", code, res)
	}
}
