package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadiusDisconnectThroughTheBinary: the binary's RFC 5176 listener,
// as configured, takes radclient's Disconnect-Request for a SIPp call: both
// SIPp ends get their BYE, the CDR says "radius disconnect", the audit log
// names the client, and /metrics counts the ACK and a forged request (and
// shows the servers answering Status-Server).
func TestRadiusDisconnectThroughTheBinary(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	gw := uas(t, "uas.xml", nil)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{Users: fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.Addr())})
	dynPort, webPort := testenv.FreeUDPPort(t), testenv.FreePort(t)
	const secret = "billing-secret"
	p := startTollgate(t, fmt.Sprintf(`radius:
  auth: ip
  auth_servers: [{address: %q, secret: %q}]
  acct_servers: [{address: %q, secret: %q}]
  status_interval: 100ms
  dynamic_authorization:
    listen: "udp:127.0.0.1:%d"
    clients: [{address: 127.0.0.1, secret: %q}]
web: {listen: "127.0.0.1:%d"}
cdr:
  migrate: true
`, fr.AuthAddr, fr.Secret, fr.AcctAddr, fr.Secret, dynPort, secret, webPort), "TOLLGATE_CDR_DATABASE="+dsn)
	caller := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: "uac_wait_bye.xml", Remote: p.addr(),
		Service: "15551230002", Calls: 1, Rate: 10, Timeout: 30 * time.Second})
	testenv.Eventually(t, 20*time.Second, "the call up", func() bool { st, _ := gw.Stats(); return st.Created >= 1 })

	dyn := fmt.Sprintf("127.0.0.1:%d", dynPort)
	const request = "User-Name = \"127.0.0.1\"\nMessage-Authenticator = 0x00\n"
	if reply, out := testenv.Radclient(t, dyn, "disconnect", "wrong", request); reply != "" {
		t.Fatalf("wrong secret answered:\n%s", out)
	}
	if reply, out := testenv.Radclient(t, dyn, "disconnect", secret, request); reply != "Disconnect-ACK" {
		t.Fatalf("Disconnect: %q\n%s", reply, out)
	}
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	if st, err := caller.Wait(ctx); err != nil || st.Successful != 1 {
		t.Fatalf("the caller got no BYE: %s %v", st, err)
	}
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE disconnect_reason = 'radius disconnect'", 1)
	waitRows(t, dsn, "SELECT count(*) AS n FROM audit_log WHERE action = 'radius disconnect' AND actor = 'radius 127.0.0.1' AND ip = '127.0.0.1'", 1)

	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", webPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	for _, want := range []struct {
		name   string
		labels []string
	}{
		{"tollgate_radius_dynauth_requests_total", []string{`result="ack"`}},
		{"tollgate_radius_dynauth_requests_total", []string{`result="forged"`}},
		{"tollgate_radius_status_server", []string{fmt.Sprintf(`server=%q`, fr.AuthAddr), `state="answering"`}},
		{"tollgate_radius_status_server", []string{fmt.Sprintf(`server=%q`, fr.AcctAddr), `state="answering"`}},
	} {
		if got := metric(metrics, want.name, want.labels...); got != "1" {
			t.Errorf("/metrics: %s%v = %q, want 1", want.name, want.labels, got)
		}
	}
}
