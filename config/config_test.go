package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	c, err := Load("../examples/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.SIP.Listeners()); got != 2 {
		t.Fatalf("listeners = %d, want 2", got)
	}
	r := c.Route(RouteQuery{Called: "15551230002"})
	if r == nil || r.Gateways[0].Address != "127.0.0.1:5080" {
		t.Fatalf("route = %+v", r)
	}
	if r.NoProgress != 5*time.Second || r.MaxDuration != 4*time.Hour {
		t.Fatalf("route timers not defaulted from timers: %+v", r)
	}
}

func TestLongestPrefixWins(t *testing.T) {
	t.Parallel()
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
		if got := c.Route(RouteQuery{Called: number}).Gateways[0].Address; got != want {
			t.Errorf("Route(%q) = %s, want %s", number, got, want)
		}
	}
	if c.Route(RouteQuery{Called: "15551234"}).NoProgress != 2*time.Second {
		t.Error("route override of no_progress lost")
	}
	noDefault, err := Parse([]byte(`routes: [{prefix: "44", gateways: [{address: "127.0.0.1:1"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if noDefault.Route(RouteQuery{Called: "33"}) != nil {
		t.Error("a number no route matches must get no route")
	}
}

func TestProblemsNameTheirLocation(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`sip:
  listen:
    - udp:127.0.0.1:5060
    - sctp:127.0.0.1:5060
routes:
  - prefix: "1x"
    gateways:
      - address: "nohostport"
        transport: sctp
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
	t.Parallel()
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
			c.Route(RouteQuery{Called: "123"})
		}
	})
}

func TestMediaDefaultsAndRouteOverride(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
routes:
  - {prefix: "1", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "2", gateways: [{address: "127.0.0.1:2"}], media: builtin}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.Mode != MediaNone || c.Route(RouteQuery{Called: "1"}).Media != MediaNone || c.Route(RouteQuery{Called: "2"}).Media != MediaBuiltin {
		t.Fatalf("modes: switch %q, route 1 %q, route 2 %q", c.Media.Mode, c.Route(RouteQuery{Called: "1"}).Media, c.Route(RouteQuery{Called: "2"}).Media)
	}
	if !c.UsesMedia(MediaBuiltin) || c.UsesMedia(MediaRTPProxy) {
		t.Error("UsesMedia does not follow the routes")
	}
	// The relay's defaults are written in the relay only: unset fields stay
	// unset here for it to fill.
	if b := c.Media.Builtin; b.MediaIP != "" || b.PortMin != 0 || b.PortMax != 0 || b.TTL != 0 || b.SetupTTL != 0 {
		t.Errorf("builtin fields set by config: %+v", b)
	}

	c, err = Parse([]byte(`
media:
  mode: rtpproxy
  rtpproxy:
    relays:
      - {address: "udp:127.0.0.1:22222", weight: 3}
      - {address: "unix:/run/rtpproxy.sock"}
    notify: tcp:127.0.0.1:22223
routes:
  - {prefix: "", gateways: [{address: "127.0.0.1:1"}]}
  - {prefix: "9", gateways: [{address: "127.0.0.1:1"}], media: none}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Media.RTPProxy
	if c.Route(RouteQuery{Called: "1"}).Media != MediaRTPProxy || c.Route(RouteQuery{Called: "9"}).Media != MediaNone || p.Relays[0].Weight != 3 ||
		p.Relays[1].Weight != 1 || p.Timeout != DefaultRTPProxyTimeout || p.Retries != DefaultRTPProxyRetries ||
		p.NotifySocket != "tcp:127.0.0.1:22223" {
		t.Errorf("rtpproxy section: %+v, routes %q %q", p, c.Route(RouteQuery{Called: "1"}).Media, c.Route(RouteQuery{Called: "9"}).Media)
	}
}

func TestMediaProblemsNameTheirLocation(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`media:
  mode: kernel
  rtpproxy:
    relays:
      - address: "sctp:127.0.0.1:1"
        weight: -1
    notify: "127.0.0.1:9"
  builtin:
    media_ip: "::1"
    port_min: 40000
    port_max: 40001
    ttl: 10ms
    control: ["tcp:127.0.0.1"]
routes:
  - prefix: ""
    gateways: [{address: "127.0.0.1:1"}]
    media: rtpengine
`))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := []string{
		"line 2, column 9: media.mode",
		"line 5, column 18: media.rtpproxy.relays[0].address",
		"line 6, column 17: media.rtpproxy.relays[0].weight",
		"line 7, column 13: media.rtpproxy.notify",
		"line 9, column 15: media.builtin.media_ip",
		"line 11, column 15: media.builtin.port_max",
		"line 12, column 10: media.builtin.ttl",
		"line 13, column 15: media.builtin.control[0]",
		"line 17, column 12: routes[0].media",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	_, err = Parse([]byte("routes: [{prefix: \"\", gateways: [{address: \"127.0.0.1:1\"}], media: rtpproxy}]\n"))
	if err == nil || !strings.Contains(err.Error(), "media.rtpproxy.relays: media mode rtpproxy needs at least one relay") {
		t.Errorf("a route on rtpproxy without relays: %v", err)
	}
}

// TestExampleUsesBuiltinRelay: make run anchors media on the built-in relay.
func TestExampleUsesBuiltinRelay(t *testing.T) {
	t.Parallel()
	c, err := Load("../examples/tollgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.Mode != MediaBuiltin || c.Route(RouteQuery{Called: "1"}).Media != MediaBuiltin || c.UsesMedia(MediaRTPProxy) {
		t.Fatalf("example media: mode %q, route %q", c.Media.Mode, c.Route(RouteQuery{Called: "1"}).Media)
	}
}

func TestBuiltinMaxBusy(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + "media:\n  builtin: {max_busy: 0.7}\n"))
	if err != nil || c.Media.Builtin.MaxBusy != 0.7 {
		t.Fatalf("max_busy: %v %v", c.Media.Builtin.MaxBusy, err)
	}
	if _, err := Parse([]byte(route + "media:\n  builtin: {max_busy: 1.5}\n")); err == nil ||
		!strings.Contains(err.Error(), "media.builtin.max_busy") {
		t.Errorf("max_busy 1.5: %v", err)
	}
}

// TestUDPOnly: udp_only is read per gateway, and refused on a tcp one.
func TestUDPOnly(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`routes:
  - prefix: ""
    gateways:
      - {address: "192.0.2.1:5060", udp_only: true}
      - {address: "192.0.2.2:5060"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if gws := cfg.Routes[0].Gateways; !gws[0].UDPOnly || gws[1].UDPOnly {
		t.Errorf("gateways %+v", gws)
	}
	_, err = Parse([]byte(`routes:
  - prefix: ""
    gateways:
      - {address: "192.0.2.1:5060", transport: tcp, udp_only: true}
`))
	if err == nil || !strings.Contains(err.Error(), "routes[0].gateways[0].udp_only") {
		t.Errorf("udp_only on a tcp gateway: %v", err)
	}
}

// TestGatewayCapacity: max_calls and max_cps are read per gateway; a
// negative or absurd figure is refused where it is written.
func TestGatewayCapacity(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`routes:
  - prefix: ""
    gateways:
      - {address: "192.0.2.1:5060", max_calls: 30, max_cps: 2.5}
      - {address: "192.0.2.2:5060"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if gws := cfg.Routes[0].Gateways; gws[0].MaxCalls != 30 || gws[0].MaxCPS != 2.5 || gws[1].MaxCalls != 0 || gws[1].MaxCPS != 0 {
		t.Errorf("gateways %+v", gws)
	}
	for _, bad := range []struct{ opt, field string }{
		{"max_calls: -1", "routes[0].gateways[0].max_calls"},
		{"max_cps: -0.5", "routes[0].gateways[0].max_cps"},
		{"max_cps: 20000", "routes[0].gateways[0].max_cps"},
	} {
		_, err := Parse([]byte("routes:\n  - prefix: \"\"\n    gateways:\n      - {address: \"192.0.2.1:5060\", " + bad.opt + "}\n"))
		if err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%s: %v", bad.opt, err)
		}
	}
}

// TestRedirect: relay by default with max_redirects 3, follow per route or
// profile, anything else refused where it is written.
func TestRedirect(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`routes:
  - {prefix: "1", gateways: [{address: "192.0.2.1:5060"}]}
  - {prefix: "2", redirect: follow, max_redirects: 5, gateways: [{address: "192.0.2.1:5060"}]}
profiles:
  - {name: p, redirect: follow}
`))
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := cfg.Routes[0], cfg.Routes[1]
	if r1.Follows() || r1.Redirect != RedirectRelay || r1.MaxRedirects != DefaultMaxRedirects || !r2.Follows() || r2.MaxRedirects != 5 {
		t.Errorf("routes %+v %+v", r1, r2)
	}
	if p, ok := cfg.Profile("p"); !ok || p.Redirect != RedirectFollow {
		t.Errorf("profile %+v", p)
	}
	_, err = Parse([]byte(`routes:
  - {prefix: "", redirect: chase, max_redirects: -1, gateways: [{address: "192.0.2.1:5060"}]}
profiles:
  - {name: p, redirect: bounce}
`))
	for _, w := range []string{"routes[0].redirect", "routes[0].max_redirects", "profiles[0].redirect"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %s: %v", w, err)
		}
	}
}

func TestMediaOnRelayLost(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route))
	if err != nil || c.Media.OnRelayLost != RelayLostEnd || c.Media.RTPProxy.HealthInterval != DefaultHealthInterval {
		t.Fatalf("defaults: on_relay_lost %q, health_interval %v, err %v", c.Media.OnRelayLost, c.Media.RTPProxy.HealthInterval, err)
	}
	c, err = Parse([]byte(route + "media:\n  on_relay_lost: keep\n  rtpproxy: {health_interval: -1s}\n"))
	if err != nil || c.Media.OnRelayLost != RelayLostKeep || c.Media.RTPProxy.HealthInterval >= 0 {
		t.Fatalf("keep, no health probe: %+v, %v", c.Media, err)
	}
	_, err = Parse([]byte(route + "media:\n  on_relay_lost: hold\n  rtpproxy: {health_interval: 10ms}\n"))
	for _, w := range []string{"media.on_relay_lost: \"hold\": want end or keep", "media.rtpproxy.health_interval"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestMediaCounterInterval(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route))
	if err != nil || c.Media.CounterInterval != DefaultCounterInterval {
		t.Fatalf("default counter_interval %v, err %v", c.Media.CounterInterval, err)
	}
	for _, ok := range []string{"5s", "-1s"} {
		c, err := Parse([]byte(route + "media:\n  counter_interval: " + ok + "\n"))
		if err != nil || c.Media.CounterInterval.String() != ok {
			t.Errorf("counter_interval %s: got %v, %v", ok, c.Media.CounterInterval, err)
		}
	}
	for _, bad := range []string{"100ms", "-5s"} {
		_, err := Parse([]byte(route + "media:\n  counter_interval: " + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "media.counter_interval") {
			t.Errorf("counter_interval %s: error %v, want one naming media.counter_interval", bad, err)
		}
	}
}

// TestRegCacheExampleLoads keeps examples/regcache.yaml a configuration
// `tollgate serve -c` runs as it stands.
func TestRegCacheExampleLoads(t *testing.T) {
	t.Parallel()
	c, err := Load("../examples/regcache.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registration
	if r.Mode != RegistrationCache || r.Upstream != "127.0.0.1:5080" || r.MinRegExpires != 3600 || r.MaxUAExpires != 60 {
		t.Errorf("registration = %+v", r)
	}
	if c.CDR.Database != "" {
		t.Errorf("the example needs a database: %q", c.CDR.Database)
	}
}

func TestRegistrationValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"registration: {mode: proxy}", "registration.mode"},
		{"registration: {mode: cache}", "registration.upstream"},
		{"registration: {mode: cache, upstream: 127.0.0.1:5080, upstream_transport: tls}", "registration.upstream_transport"},
		{"registration: {mode: cache, upstream: 127.0.0.1:5080, min_reg_expires: 30, max_ua_expires: 60}", "registration.min_reg_expires"},
		{"registration: {mode: cache, upstream: 127.0.0.1:5080, upstream_interface: public}", "registration.upstream_interface"},
		{"sip: {interfaces: [{name: public, listen: [\"udp:127.0.0.3:5060\"]}]}\nregistration: {mode: local, upstream_interface: public}", "registration.upstream_interface"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one about %s", tc.yaml, err, tc.want)
		}
	}
	c, err := Parse([]byte("registration: {mode: cache, upstream: 127.0.0.1:5080}"))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Registration; r.MinRegExpires != 3600 || r.MaxUAExpires != 60 || r.UpstreamTransport != "udp" {
		t.Errorf("defaults: %+v", r)
	}
}

func TestCDRRetention(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte("cdr:\n  database: postgres://db/tollgate\n  retention: 13\n"))
	if err != nil || cfg.CDR.Retention != 13 {
		t.Fatalf("retention 13: %v, %+v", err, cfg.CDR)
	}
	for _, c := range []struct{ yaml, want string }{
		{"cdr:\n  database: postgres://db/tollgate\n  retention: -1\n", "cdr.retention: must be a number of months"},
		{"cdr:\n  retention: 6\n", "cdr.retention: needs cdr.database"},
		{"cdr:\n  database: postgres://db/tollgate\n  retention: 1y\n", "line 3"},
	} {
		if _, err := Parse([]byte(c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.want)
		}
	}
}

// TestMediaIP6: the built-in relay's IPv6 media address is checked like
// the IPv4 one, and a wildcard needs the address for the SDP; so is an
// rtpproxy's advertise6.
func TestMediaIP6(t *testing.T) {
	t.Parallel()
	parse := func(builtin string) error {
		_, err := Parse([]byte("media:\n  mode: builtin\n  builtin:\n" + builtin))
		return err
	}
	for _, ok := range []string{
		"    media_ip6: \"::1\"\n",
		"    media_ip6: \"2001:db8::5\"\n    advertise_ip6: \"2001:db8::6\"\n",
		"    media_ip6: \"::\"\n    advertise_ip6: \"2001:db8::6\"\n",
	} {
		if err := parse(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, path := range map[string]string{
		"    media_ip6: 127.0.0.1\n":                           "media.builtin.media_ip6",
		"    media_ip6: \"::ffff:127.0.0.1\"\n":                "media.builtin.media_ip6",
		"    media_ip6: \"fe80::1%eth0\"\n":                    "media.builtin.media_ip6",
		"    media_ip6: \"::\"\n":                              "media.builtin.advertise_ip6",
		"    media_ip6: \"::1\"\n    advertise_ip6: 1.2.3.4\n": "media.builtin.advertise_ip6",
		"    advertise_ip6: \"2001:db8::6\"\n":                 "media.builtin.advertise_ip6",
	} {
		if err := parse(bad); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want an error at %s", bad, err, path)
		}
	}
	rtpproxy := func(adv6 string) error {
		_, err := Parse([]byte("media:\n  mode: rtpproxy\n  rtpproxy:\n    relays: [{address: \"udp:127.0.0.1:22222\", advertise6: \"" + adv6 + "\"}]\n"))
		return err
	}
	if err := rtpproxy("2001:db8::9"); err != nil {
		t.Errorf("advertise6 2001:db8::9: %v", err)
	}
	if err := rtpproxy("192.0.2.9"); err == nil || !strings.Contains(err.Error(), "media.rtpproxy.relays[0].advertise6") {
		t.Errorf("advertise6 192.0.2.9: %v", err)
	}
}

func TestOptionsTranscoderStatsHeaders(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(route + "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  options_transcoder_in_stats_hdr: P-Transcoder-Stats-In\n  options_transcoder_out_stats_hdr: P-Transcoder-Stats-Out\n"))
	if err != nil || c.SIP.OptionsTranscoderInStatsHdr != "P-Transcoder-Stats-In" || c.SIP.OptionsTranscoderOutStatsHdr != "P-Transcoder-Stats-Out" {
		t.Fatalf("%+v %v", c.SIP, err)
	}
	_, err = Parse([]byte(route + "sip:\n  listen: [\"udp:127.0.0.1:5060\"]\n  options_transcoder_in_stats_hdr: \"P-Stats: x\"\n"))
	if err == nil || !strings.Contains(err.Error(), `sip.options_transcoder_in_stats_hdr: "P-Stats: x": want a header name`) {
		t.Fatalf("error %v", err)
	}
}
