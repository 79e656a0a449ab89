package b2bua

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
	"github.com/tollgate/tollgate/switch/registrar"
)

// regCacheSwitch runs a switch caching registrations toward registrar,
// giving clients maxUA seconds.
func regCacheSwitch(t *testing.T, registrar *testenv.SIPp, maxUA int) *testSwitch {
	t.Helper()
	return startSwitch(t, fmt.Sprintf(`registration:
  mode: cache
  upstream: %s
  min_reg_expires: 3600
  max_ua_expires: %d
`, registrar.Addr(), maxUA))
}

// TestRegCacheCallReachesClient registers a SIPp client through the cache
// to a SIPp registrar, then calls its alias from the registrar's side: the
// call must reach the client over the flow it registered on, on UDP, from
// behind a NAT (its Contact names a port it does not send from, and no one
// listens on), and on TCP (the connection the client opened).
func TestRegCacheCallReachesClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport string
		nat       bool
	}{
		{"udp", "udp", false},
		{"udp behind NAT", "udp", true},
		{"tcp", "tcp", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
			ts := regCacheSwitch(t, reg, 30)
			clientPort := testenv.FreePort(t)
			contactPort := clientPort
			if tc.nat {
				contactPort = testenv.FreePort(t)
			}
			client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
				Port: clientPort, Transport: tc.transport, Service: "alice", Calls: 1, OutOfCall: "uas.xml",
				Pause: 4 * time.Second,
				Keys:  map[string]string{"expires": "3600", "contact_port": strconv.Itoa(contactPort)}})

			testenv.Eventually(t, 5*time.Second, "the refresh answered from the cache", func() bool {
				return ts.stats.RegistersCached.Load() == 1
			})
			bs := ts.regs.Bindings("alice@127.0.0.1")
			if len(bs) != 1 {
				t.Fatalf("bindings of alice: %+v", bs)
			}
			b := bs[0]
			if b.Flow.Transport != tc.transport || int(b.Flow.Source.Port()) != clientPort {
				t.Errorf("flow %+v: want %s from port %d", b.Flow, tc.transport, clientPort)
			}
			if left := time.Until(b.Expires); left > 30*time.Second || left < 25*time.Second {
				t.Errorf("client lifetime %v: want max_ua_expires, 30s", left)
			}
			if left := time.Until(b.Upstream); left < 3500*time.Second {
				t.Errorf("upstream lifetime %v: want min_reg_expires, 3600s", left)
			}
			if n := ts.stats.RegistersRelayed.Load(); n != 1 {
				t.Errorf("%d REGISTERs relayed upstream before the call: want 1, the refresh was not due", n)
			}

			caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: ts.addr(),
				Service: b.Alias, Calls: 1, Pause: 100 * time.Millisecond})
			caller.WaitSuccess(t, 1)
			rec := <-ts.records
			if want := fmt.Sprintf("127.0.0.1:%d", clientPort); rec.SIPCode != 200 || rec.Gateway != want {
				t.Errorf("call to the alias: code %d through %s, want 200 through the flow %s",
					rec.SIPCode, rec.Gateway, want)
			}

			client.WaitSuccess(t, 1)
			if ts.regs.Len() != 0 {
				t.Errorf("after de-registration the cache holds %+v", ts.regs.All())
			}
			if n := ts.stats.RegistersRelayed.Load(); n != 2 {
				t.Errorf("%d REGISTERs relayed: want 2, the first and the de-registration", n)
			}
			reg.Stop()
			if st, _ := reg.Stats(); st.Failed != 0 || st.Created != 1 {
				t.Errorf("registrar: %s; want one Call-ID, every Contact an alias", st)
			}
		})
	}
}

// TestRegCacheSilentClientExpires: a client that stops refreshing loses
// its binding once the lifetime it was given runs out, and its alias is
// removed upstream under a Call-ID of the switch's own.
func TestRegCacheSilentClientExpires(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	ts := regCacheSwitch(t, reg, 1)
	port := testenv.FreePort(t)
	client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
		Port: port, Service: "bob", Calls: 1, Pause: 30 * time.Second,
		Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(port)}})
	testenv.Eventually(t, 5*time.Second, "bob registered", func() bool {
		return ts.stats.RegistersCached.Load() == 1
	})
	alias := registrar.Alias("bob@127.0.0.1", fmt.Sprintf("sip:bob@127.0.0.1:%d;transport=UDP", port))
	if _, ok := ts.regs.ByAlias(alias); !ok {
		t.Fatalf("alias %s not cached: %+v", alias, ts.regs.All())
	}
	testenv.Eventually(t, 5*time.Second, "the silent client's binding swept", func() bool {
		return ts.regs.Len() == 0
	})
	testenv.Eventually(t, 5*time.Second, "the alias removed upstream", func() bool {
		st, err := reg.Stats()
		return err == nil && st.Created == 2
	})
	client.Stop()
}

// TestRegCacheChallengePassesThrough: the registrar's 401 reaches the
// client with its challenge, and the client's answer reaches the registrar
// with its Authorization, computed over the Request-URI the client sent.
func TestRegCacheChallengePassesThrough(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar_auth.xml", Calls: 1})
	ts := regCacheSwitch(t, reg, 60)
	client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_auth_client.xml", Remote: ts.addr(),
		Service: "carol", Calls: 1, Extra: []string{"-au", "carol", "-ap", "secret"}})
	client.WaitSuccess(t, 1)
	reg.WaitSuccess(t, 1)
	if bs := ts.regs.Bindings("carol@127.0.0.1"); len(bs) != 1 {
		t.Errorf("bindings of carol after the challenge: %+v", bs)
	}
}

// TestRegCacheOutOfOrder: a REGISTER whose CSeq is not above the last one
// of its Call-ID is refused 500, and changes nothing.
func TestRegCacheOutOfOrder(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	ts := regCacheSwitch(t, reg, 60)
	client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_out_of_order.xml", Remote: ts.addr(),
		Service: "dave", Calls: 1})
	client.WaitSuccess(t, 1)
	bs := ts.regs.Bindings("dave@127.0.0.1")
	if len(bs) != 1 || bs[0].CSeq != 5 {
		t.Errorf("bindings of dave: %+v, want the one of CSeq 5", bs)
	}
}

// TestNATKeepaliveDropsDeadFlow: a client behind NAT gets OPTIONS over its
// flow, which it answers (SIPp's -aa) and keeps its binding; once it is
// gone, the next keepalive goes unanswered and the binding is dropped long
// before its lifetime ends. A client not behind NAT gets none.
func TestNATKeepaliveDropsDeadFlow(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	ts := startSwitch(t, fmt.Sprintf(`registration:
  mode: cache
  upstream: %s
  max_ua_expires: 60
  nat_keepalive: 1
`, reg.Addr()))
	port := testenv.FreePort(t)
	natted := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
		Port: port, Service: "erin", Calls: 1, Pause: 60 * time.Second,
		Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(testenv.FreePort(t))}})
	direct := testenv.FreePort(t)
	testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
		Port: direct, Service: "frank", Calls: 1, Pause: 60 * time.Second,
		Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(direct)}})
	testenv.Eventually(t, 5*time.Second, "erin and frank registered", func() bool {
		return len(ts.regs.Bindings("erin@127.0.0.1")) == 1 && len(ts.regs.Bindings("frank@127.0.0.1")) == 1
	})
	testenv.Eventually(t, 5*time.Second, "two registrations counted for /metrics", func() bool {
		return ts.stats.Registrations.Load() == 2
	})
	if b := ts.regs.Bindings("frank@127.0.0.1")[0]; behindNAT(b) {
		t.Errorf("frank, whose Contact is his source, taken for behind NAT: %+v", b)
	}
	if b := ts.regs.Bindings("erin@127.0.0.1")[0]; !behindNAT(b) {
		t.Errorf("erin, whose Contact is not her source, not taken for behind NAT: %+v", b)
	}
	testenv.Eventually(t, 5*time.Second, "three keepalives sent, each answered (none dropped erin)", func() bool {
		return ts.stats.NATKeepalives.Load() >= 3
	})
	if n := ts.stats.DeadFlows.Load(); n != 0 || len(ts.regs.Bindings("erin@127.0.0.1")) != 1 {
		t.Fatalf("an answered keepalive dropped a binding (%d dead flows)", n)
	}
	natted.Stop()
	testenv.Eventually(t, 5*time.Second, "erin's dead flow dropped", func() bool {
		return len(ts.regs.Bindings("erin@127.0.0.1")) == 0
	})
	if n := ts.stats.DeadFlows.Load(); n != 1 {
		t.Errorf("%d dead flows, want erin's", n)
	}
}

// TestRegistrationLimits: a source over its REGISTER rate gets 503 before
// anything else is done, and a new binding over the limit per address or
// per AoR gets 403; what was bound stays.
func TestRegistrationLimits(t *testing.T) {
	for _, tc := range []struct {
		name, limit string
		second      string // the second client's AoR user
	}{
		{"rate", "register_rate: 1", ""},
		{"per source", "max_per_source: 1", "bob"},
		{"per AoR", "max_per_aor: 1", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
			ts := startSwitch(t, fmt.Sprintf("registration: {mode: cache, upstream: %q, %s}\n", reg.Addr(), tc.limit))
			start := func(user string) *testenv.SIPp {
				port := testenv.FreePort(t)
				return testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
					Port: port, Service: user, Calls: 1, Pause: 30 * time.Second,
					Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(port)}})
			}
			first := start("alice")
			testenv.Eventually(t, 5*time.Second, "alice registered", func() bool {
				return len(ts.regs.Bindings("alice@127.0.0.1")) == 1
			})
			if tc.second == "" {
				// The refresh right after the first REGISTER is over the rate.
				testenv.Eventually(t, 5*time.Second, "the refresh refused", func() bool {
					return ts.stats.RegistersLimited.Load() == 1
				})
				if n := ts.stats.RegistersCached.Load(); n != 0 {
					t.Errorf("a refused refresh reached the cache (%d)", n)
				}
				first.Stop()
				return
			}
			second := start(tc.second)
			testenv.Eventually(t, 5*time.Second, "the second binding refused", func() bool {
				return ts.stats.RegistersLimited.Load() == 1
			})
			if n := ts.regs.Len(); n != 1 {
				t.Errorf("%d bindings, want alice's first only: %+v", n, ts.regs.All())
			}
			second.Stop()
			first.Stop()
		})
	}
}

// TestUnregisterByID: what the web UI and API list and remove.
func TestUnregisterByID(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	ts := regCacheSwitch(t, reg, 60)
	port := testenv.FreePort(t)
	testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(), Port: port,
		Service: "gina", Calls: 1, Pause: 30 * time.Second,
		Keys: map[string]string{"expires": "3600", "contact_port": strconv.Itoa(port)}})
	testenv.Eventually(t, 5*time.Second, "gina registered", func() bool { return len(ts.Registrations()) == 1 })
	r := ts.Registrations()[0]
	if r.AoR != "gina@127.0.0.1" || r.Source != fmt.Sprintf("127.0.0.1:%d", port) || r.UserAgent != "SIPp reg_client" {
		t.Errorf("listed %+v", r)
	}
	if err := ts.Unregister(r.ID); err != nil {
		t.Fatal(err)
	}
	if err := ts.Unregister(r.ID); err != ErrNoSuchRegistration {
		t.Errorf("second Unregister: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, "the alias removed upstream", func() bool {
		st, err := reg.Stats()
		return err == nil && st.Created == 2
	})
}

// TestRegisterFloodDoesNotStopCalls: a source flooding REGISTERs far over
// its rate is refused at the door while calls through the switch all
// complete.
func TestRegisterFloodDoesNotStopCalls(t *testing.T) {
	t.Parallel()
	reg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "registrar.xml"})
	uas := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uas.xml"})
	ts := startSwitch(t, fmt.Sprintf(`registration: {mode: cache, upstream: %q, register_rate: 5}
routes:
  - prefix: ""
    gateways: [{address: %q}]
`, reg.Addr(), uas.Addr()))
	flood := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_client.xml", Remote: ts.addr(),
		Service: "flood", Rate: 500, Calls: 3000, Pause: time.Millisecond,
		Keys: map[string]string{"expires": "3600", "contact_port": "5999"}})
	testenv.Eventually(t, 10*time.Second, "the flood refused at the door", func() bool {
		return ts.stats.RegistersLimited.Load() > 200
	})
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: ts.addr(),
		Service: "4420", Calls: 20, Rate: 20, Pause: 50 * time.Millisecond})
	caller.WaitSuccess(t, 20)
	flood.Stop()
	if n := ts.stats.RegistersRelayed.Load() + ts.stats.RegistersCached.Load(); n > 60 {
		t.Errorf("%d flooded REGISTERs got past the rate of 5/s", n)
	}
}
