package config

import (
	"strings"
	"testing"
	"time"
)

func TestDynamicAuthorization(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`prepaid: {reauthorize_before: 10s}
radius:
  status_interval: 10s
  accounting: {interim_min: 5s, interim_max: 10m}
  dynamic_authorization:
    listen: "udp:127.0.0.1:3799"
    clients:
      - {address: 10.0.0.5, secret: s1}
      - {address: "::1", secret: s2, message_authenticator: optional}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Radius.DynamicAuthorization
	if !d.Enabled() || d.Addr() != "127.0.0.1:3799" || d.Clients[0].MessageAuthenticator != MessageAuthRequired ||
		d.Clients[1].MessageAuthenticator != MessageAuthOptional {
		t.Errorf("dynamic_authorization = %+v", d)
	}
	if a := c.Radius.Accounting; a.InterimMin != 5*time.Second || a.InterimMax != 10*time.Minute || c.Radius.StatusInterval != 10*time.Second ||
		c.Prepaid.ReauthorizeBefore != 10*time.Second {
		t.Errorf("accounting = %+v", a)
	}
	off, err := Parse([]byte("radius: {}\n"))
	if err != nil || off.Radius.DynamicAuthorization.Enabled() || off.Radius.Accounting.InterimMin != time.Minute {
		t.Errorf("defaults: %+v, %v", off.Radius, err)
	}
}

func TestDynamicAuthorizationProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`prepaid: {reauthorize_before: -1s}
radius:
  status_interval: -1s
  accounting: {interim_min: 30s, interim_max: 10s}
  dynamic_authorization:
    listen: "tcp:127.0.0.1:3799"
    clients:
      - {address: nowhere, secret: ""}
      - {address: 10.0.0.1, secret: s, message_authenticator: sometimes}
      - {address: 10.0.0.1, secret: s}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, w := range []string{
		"radius.accounting.interim_max",
		"prepaid.reauthorize_before",
		"radius.status_interval",
		"line 6, column 13: radius.dynamic_authorization.listen",
		"radius.dynamic_authorization.clients[0].address",
		"radius.dynamic_authorization.clients[0].secret",
		"radius.dynamic_authorization.clients[1].message_authenticator",
		"radius.dynamic_authorization.clients[2].address: 10.0.0.1 is listed twice",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if _, err := Parse([]byte("radius: {dynamic_authorization: {clients: [{address: 10.0.0.1, secret: s}]}}\n")); err == nil ||
		!strings.Contains(err.Error(), "no listen address") {
		t.Errorf("clients without listen: %v", err)
	}
}
