package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A database route replaces the file's route of its prefix, the file's
// other routes stay, and the original configuration is left as it was for
// the calls that hold it.
func TestWithRoutesMergesOverTheFile(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
timers: {no_progress: 3s}
routes:
  - {prefix: "", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "44", gateways: [{address: "127.0.0.1:2"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.WithRoutes([]Route{
		{Name: "uk-db", Prefix: "44", Gateways: []Gateway{{Address: "127.0.0.1:3"}}},
		{Name: "de-db", Prefix: "49", Gateways: []Gateway{{Address: "127.0.0.1:4"}}},
	})
	if r := n.Route("4420"); r == nil || r.Name != "uk-db" || r.Gateways[0].Transport != "udp" || r.NoProgress != 3*time.Second ||
		len(r.HuntStop) == 0 || r.Auth != AuthNone {
		t.Errorf("44: %+v, want the database's route with the file's defaults", r)
	}
	if r := n.Route("4930"); r == nil || r.Name != "de-db" {
		t.Errorf("49: %+v", r)
	}
	if r := n.Route("1"); r == nil || r.Gateways[0].Address != "127.0.0.1:1" {
		t.Errorf("the file's default route: %+v", r)
	}
	if r := c.Route("4420"); r.Gateways[0].Address != "127.0.0.1:2" {
		t.Errorf("the original configuration changed: %+v", r)
	}
}

// A gateway's digest password stays out of JSON, which the web UI's
// configuration view and API are made of.
func TestGatewayPasswordNotInJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Gateway{Address: "127.0.0.1:1", AuthUser: "u", AuthPassword: "s3cret"})
	if err != nil || strings.Contains(string(b), "s3cret") {
		t.Errorf("%s %v", b, err)
	}
}
