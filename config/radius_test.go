package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRadiusDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
cdr: {dir: /tmp/cdr}
radius:
  auth: ip
  auth_servers: [{address: "127.0.0.1:1812", secret: s1}]
  acct_servers: [{address: "127.0.0.1:1813", secret: s2, retries: -1}]
  return_codes: {4: {code: 486, reason: Broke}}
  accounting: {interim: 30s}
limits: {max_calls: 10, account_calls: 2, gateway_calls: 3, calls_per_second: 5}
prepaid: {max_credit: 1h}
routes:
  - {prefix: "1", gateways: [{address: "127.0.0.1:1"}], credit_time: 10m}
  - {prefix: "2", auth: digest}
  - {prefix: "3", gateways: [{address: "127.0.0.1:3"}], auth: none}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Radius
	if !r.Enabled() || r.IPPassword != "cisco" || r.Realm != "tollgate" || r.NonceLifetime != time.Minute ||
		r.AuthServers[0].Timeout != 2*time.Second || r.AcctServers[0].Retries != -1 ||
		r.ReturnCodes[4] != (SIPResponse{486, "Broke"}) || !r.Accounting.StartRecords() ||
		r.Accounting.Interim != 30*time.Second || r.Accounting.QueueDir != "/tmp/cdr/radius-queue" {
		t.Errorf("radius = %+v", r)
	}
	if l := c.Limits; l.MaxCalls != 10 || l.AccountCalls != 2 || l.GatewayCalls != 3 || l.CallsPerSecond != 5 {
		t.Errorf("limits = %+v", l)
	}
	if c.Prepaid.MaxCredit != time.Hour || c.Prepaid.NoCredit.Code != 402 {
		t.Errorf("prepaid = %+v", c.Prepaid)
	}
	for prefix, want := range map[string]string{"1": AuthIP, "2": AuthDigest, "3": AuthNone} {
		if got := c.Route(RouteQuery{Called: prefix}).Auth; got != want {
			t.Errorf("route %s auth %q, want %q", prefix, got, want)
		}
	}
	if c.Route(RouteQuery{Called: "1"}).CreditTime != 10*time.Minute {
		t.Error("credit_time lost")
	}
	off, err := Parse([]byte("routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:1\"}]}]\n"))
	if err != nil || off.Radius.Enabled() || off.Route(RouteQuery{Called: "1"}).Auth != AuthNone {
		t.Errorf("no radius section: %+v, %v", off.Radius, err)
	}
}

func TestRadiusProblemsAreLocated(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`radius:
  auth: kerberos
  acct_servers:
    - {address: "nowhere", secret: ""}
  return_codes: {0: {code: 200}}
  accounting: {interim: 10ms}
limits: {account_calls: -1, calls_per_second: -2}
prepaid: {max_credit: -1s}
routes:
  - {prefix: "1", auth: digest, credit_time: -1s}
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	msg := err.Error()
	for _, w := range []string{
		"line 2, column 9: radius.auth",
		"line 4, column 17: radius.acct_servers[0].address",
		"radius.acct_servers[0].secret",
		"radius.auth_servers: authorisation by ip or digest needs",
		"radius.return_codes.0: h323-return-code 0",
		"radius.return_codes.0.code: 200",
		"line 6, column 25: radius.accounting.interim",
		"line 7, column 25: limits.account_calls",
		"limits.calls_per_second",
		"line 8, column 23: prepaid.max_credit",
		"routes[0].credit_time",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "routes[0].gateways") {
		t.Errorf("a route with RADIUS authorisation may leave its gateways to RADIUS:\n%s", msg)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`radius:
  auth_servers: [{address: "bad", secret: "hunter2-secret"}]
`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}
