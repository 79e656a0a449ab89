package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

// localRegistrar runs a switch that is the registrar of alice (password
// secret) in realm tollgate.test.
func localRegistrar(t *testing.T) *testSwitch {
	t.Helper()
	cfg, port := testConfig(t, `registration:
  mode: local
  realm: tollgate.test
  users: [{user: alice, password: secret}, {user: bob, password: other}]
  min_expires: 60
`)
	return runSwitch(t, cfg, port, Options{RegistrarNonces: aaa.NewNonces(aaa.NonceConfig{})}, nil)
}

// TestLocalRegistrarCallsRegisteredUser: alice registers with her digest,
// and a call to alice reaches her over the flow she registered on.
func TestLocalRegistrarCallsRegisteredUser(t *testing.T) {
	t.Parallel()
	ts := localRegistrar(t)
	clientPort := testenv.FreePort(t)
	client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_auth_client.xml", Remote: ts.addr(),
		Port: clientPort, Service: "alice", Calls: 1, OutOfCall: "uas.xml", Pause: 4 * time.Second,
		Extra: []string{"-au", "alice", "-ap", "secret"}})
	testenv.Eventually(t, 5*time.Second, "alice registered", func() bool {
		return len(ts.regs.Bindings("alice@tollgate.test")) == 1
	})
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: ts.addr(),
		Service: "alice", Calls: 1, Pause: 100 * time.Millisecond})
	caller.WaitSuccess(t, 1)
	rec := <-ts.records
	if want := fmt.Sprintf("127.0.0.1:%d", clientPort); rec.SIPCode != 200 || rec.Gateway != want {
		t.Errorf("call to alice: code %d through %s, want 200 through %s", rec.SIPCode, rec.Gateway, want)
	}
	client.WaitSuccess(t, 1)

	// bob is a user, but not registered: 480.
	unreg := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_reject.xml", Remote: ts.addr(),
		Service: "bob", Calls: 1, Keys: map[string]string{"expect": "480"}})
	unreg.WaitSuccess(t, 1)
}

// TestLocalRegistrarRefuses: a wrong password, another user's credentials
// and too short a lifetime are refused, and bind nothing.
func TestLocalRegistrarRefuses(t *testing.T) {
	t.Parallel()
	ts := localRegistrar(t)
	for _, tc := range []struct {
		name, scenario, user, password string
	}{
		{"wrong password", "reg_auth_refused.xml", "alice", "wrong"},
		{"another user's credentials", "reg_auth_refused.xml", "bob", "other"},
		{"unknown user", "reg_auth_refused.xml", "mallory", "x"},
		{"too brief", "reg_too_brief.xml", "alice", "secret"},
	} {
		c := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: tc.scenario, Remote: ts.addr(),
			Service: "alice", Calls: 1, Extra: []string{"-au", tc.user, "-ap", tc.password}})
		c.WaitSuccess(t, 1)
	}
	if n := ts.regs.Len(); n != 0 {
		t.Errorf("refused REGISTERs left %d bindings: %+v", n, ts.regs.All())
	}
}

// TestLocalRegistrarDatabaseSubscribers: a subscriber of the database,
// known by its HA1 only, registers with its digest and takes calls; a
// wrong password is refused; a user of the configuration file keeps the
// file's password whatever the database says.
func TestLocalRegistrarDatabaseSubscribers(t *testing.T) {
	t.Parallel()
	ts := localRegistrar(t)
	ts.SetSubscribers(map[string]string{
		"dave":  aaa.HA1("dave", "tollgate.test", "db-secret"),
		"alice": aaa.HA1("alice", "tollgate.test", "db-password"),
	})
	refused := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_auth_refused.xml", Remote: ts.addr(),
		Service: "dave", Calls: 1, Extra: []string{"-au", "dave", "-ap", "wrong"}})
	refused.WaitSuccess(t, 1)
	overridden := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_auth_refused.xml", Remote: ts.addr(),
		Service: "alice", Calls: 1, Extra: []string{"-au", "alice", "-ap", "db-password"}})
	overridden.WaitSuccess(t, 1)
	if n := ts.regs.Len(); n != 0 {
		t.Fatalf("refused REGISTERs left %d bindings", n)
	}
	client := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "reg_auth_client.xml", Remote: ts.addr(),
		Service: "dave", Calls: 1, OutOfCall: "uas.xml", Pause: 4 * time.Second,
		Extra: []string{"-au", "dave", "-ap", "db-secret"}})
	testenv.Eventually(t, 5*time.Second, "dave registered", func() bool {
		return len(ts.regs.Bindings("dave@tollgate.test")) == 1
	})
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac.xml", Remote: ts.addr(),
		Service: "dave", Calls: 1, Pause: 100 * time.Millisecond})
	caller.WaitSuccess(t, 1)
	if rec := <-ts.records; rec.SIPCode != 200 {
		t.Errorf("call to dave: %d", rec.SIPCode)
	}
	client.WaitSuccess(t, 1)
}
