package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../examples/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.SIP.Listeners()); got != 2 {
		t.Fatalf("listeners = %d, want 2", got)
	}
	r := c.Route("15551230002")
	if r == nil || r.Gateways[0].Address != "127.0.0.1:5080" {
		t.Fatalf("route = %+v", r)
	}
	if r.NoProgress != 5*time.Second || r.MaxDuration != 4*time.Hour {
		t.Fatalf("route timers not defaulted from timers: %+v", r)
	}
}

func TestLongestPrefixWins(t *testing.T) {
	c, err := Parse([]byte(`
routes:
  - {prefix: "", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "1", gateways: [{address: "127.0.0.1:2"}]}
  - {prefix: "1555", gateways: [{address: "127.0.0.1:3"}], no_progress: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]string{
		"15551234": "127.0.0.1:3", "1555": "127.0.0.1:3", "1556": "127.0.0.1:2",
		"2": "127.0.0.1:1", "": "127.0.0.1:1",
	} {
		if got := c.Route(number).Gateways[0].Address; got != want {
			t.Errorf("Route(%q) = %s, want %s", number, got, want)
		}
	}
	if c.Route("15551234").NoProgress != 2*time.Second {
		t.Error("route override of no_progress lost")
	}
	noDefault, err := Parse([]byte(`routes: [{prefix: "44", gateways: [{address: "127.0.0.1:1"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if noDefault.Route("33") != nil {
		t.Error("a number no route matches must get no route")
	}
}

func TestProblemsNameTheirLocation(t *testing.T) {
	_, err := Parse([]byte(`sip:
  listen:
    - udp:127.0.0.1:5060
    - sctp:127.0.0.1:5060
routes:
  - prefix: "1x"
    gateways:
      - address: "nohostport"
        transport: tls
    hunt_stop: [200]
timers:
  no_progress: -1s
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := []string{
		"line 4, column 7: sip.listen[1]",
		"line 6, column 13: routes[0].prefix",
		"line 8, column 18: routes[0].gateways[0].address",
		"line 9, column 20: routes[0].gateways[0].transport",
		"line 10, column 17: routes[0].hunt_stop[0]",
		"line 12, column 16: timers.no_progress",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
}

func TestUnknownFieldAndBadYAML(t *testing.T) {
	for _, in := range []string{"sip:\n  lisen: []\n", "routes: [\n", "timers:\n  drain: forever\n"} {
		_, err := Parse([]byte(in))
		var ce *Error
		if !errors.As(err, &ce) || ce.Problems[0].Line == 0 {
			t.Errorf("Parse(%q) = %v, want an *Error with a line", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("routes: [{prefix: \"1\", gateways: [{address: \"127.0.0.1:1\"}]}]"))
	f.Add([]byte("sip: {listen: [\"udp:[::1]:5060\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil {
			c.Route("123")
		}
	})
}
