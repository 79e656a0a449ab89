package b2bua

import (
	"os"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
)

// TestSipgoVersion: the workarounds in sipgo.go were checked against
// sipgoVersion; another version in go.mod must be checked before they are
// kept.
func TestSipgoVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/emiago/sipgo" {
			if f[1] != sipgoVersion {
				t.Fatalf("go.mod has sipgo %s, sipgo.go's workarounds were checked against %s: check each, then update sipgoVersion", f[1], sipgoVersion)
			}
			return
		}
	}
	t.Fatal("go.mod does not require sipgo")
}

// TestHeadersNamed: headers are found whatever the case of their names,
// in order, a compact form only under its own name, and without
// allocating (what it replaces GetHeaders for).
func TestHeadersNamed(t *testing.T) {
	raw := "INVITE sip:b@192.0.2.2 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>\r\n" +
		"Call-ID: h\r\nCSeq: 1 INVITE\r\nSupported: timer\r\nSESSION-EXPIRES: 90\r\nk: 100rel\r\n" +
		"supported: replaces\r\nUser-Agent: x\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	var got []string
	for h := range headersNamed(req, "Supported") {
		got = append(got, h.Value())
	}
	if strings.Join(got, ",") != "timer,replaces" {
		t.Errorf("Supported: got %q, want timer then replaces", got)
	}
	if h := headerNamed(req, "Session-Expires"); h == nil || h.Value() != "90" {
		t.Errorf("Session-Expires written SESSION-EXPIRES: got %v", h)
	}
	if h := headerNamed(req, "k"); h == nil || h.Value() != "100rel" {
		t.Errorf("compact k: got %v", h)
	}
	if h := headerNamed(req, "Require"); h != nil {
		t.Errorf("Require: got %q from a message without one", h.Value())
	}
	if n := testing.AllocsPerRun(100, func() {
		if !listHas(req, "Supported", "replaces") || headerNamed(req, "User-Agent") == nil {
			t.Fatal("lookup failed")
		}
	}); n != 0 {
		t.Errorf("lookups allocate %v times, want 0", n)
	}
}

// TestIdentityFollowsReload: our Server and User-Agent headers are made
// once per product string, shared by the messages, and made again when a
// reload changes the string.
func TestIdentityFollowsReload(t *testing.T) {
	var s Switch
	cfg := &config.Config{}
	cfg.SIP.UserAgent = "Tollgate A"
	s.cfg.Store(cfg)
	first := s.identity()
	if first.server.Value() != "Tollgate A" || first.server.Name() != "Server" || first.userAgent.Name() != "User-Agent" {
		t.Fatalf("got %s: %s and %s: %s", first.server.Name(), first.server.Value(), first.userAgent.Name(), first.userAgent.Value())
	}
	if s.identity() != first {
		t.Error("made again for the same product string")
	}
	reloaded := &config.Config{}
	reloaded.SIP.UserAgent = "Tollgate B"
	s.cfg.Store(reloaded)
	if got := s.identity(); got.server.Value() != "Tollgate B" || got.userAgent.Value() != "Tollgate B" {
		t.Errorf("after the reload: Server %q, User-Agent %q", got.server.Value(), got.userAgent.Value())
	}
}
