package aaa_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadSec authorises and accounts a call over RadSec (RFC 6614) with
// FreeRADIUS 3.2's TLS listener: certificates from a CA made for the test,
// the server's name checked, Tollgate's client certificate required. The
// server restarts: the next request opens a new connection. A server name
// its certificate does not carry fails the handshake.
func TestRadSec(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{TLS: pki})
	tlsCfg, err := aaa.RadSecTLS(pki.CAFile, pki.ServerName, pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	radsec := aaa.ServerConfig{Addr: fr.TLSAddr, Secret: "radsec", Timeout: 2 * time.Second,
		Transport: aaa.TransportTLS, TLS: tlsCfg}
	c := newClient(t, aaa.ClientConfig{Servers: []aaa.ServerConfig{radsec}, StatusInterval: 100 * time.Millisecond})
	a := aaa.NewAuthorizer(c, aaa.AuthConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, err := a.Authorize(ctx, ipRequest("127.0.0.2"))
	if err != nil || res.CreditTime != 120*time.Second || len(res.Routes) != 3 || res.Server != fr.TLSAddr {
		t.Fatalf("Authorize over RadSec: %+v, %v", res, err)
	}
	q, err := aaa.OpenQueue(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	acct := aaa.NewAccountant(c, q, aaa.AccountingConfig{})
	now := time.Now()
	leg := aaa.Leg{Origin: aaa.OriginAnswer, UserName: "127.0.0.2", CallingNumber: "1555", CalledNumber: "1666",
		RemoteAddress: "127.0.0.2", CallID: "radsec-call", LegCallID: "radsec-call", ConfID: aaa.NewConfID(),
		SetupTime: now, ConnectTime: now}
	if err := acct.Start(ctx, leg); err != nil {
		t.Fatal(err)
	}
	if err := acct.Stop(ctx, leg, aaa.StopInfo{Time: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	recs, err := fr.WaitDetail(ctx, 2)
	if err != nil || q.Len() != 0 {
		t.Fatalf("accounting over RadSec: %v, %d queued", err, q.Len())
	}
	if recs[0].Get("Acct-Status-Type") != "Start" || recs[1].Get("Acct-Status-Type") != "Stop" ||
		recs[1].Get("Acct-Session-Id") != "radsec-call" {
		t.Errorf("detail: %+v", recs)
	}
	testenv.Eventually(t, 5*time.Second, "Status-Server answered over RadSec", func() bool {
		return c.Stats()[0].Probe == aaa.ProbeAnswering
	})

	fr.Stop()
	fr.Start()
	testenv.Eventually(t, 10*time.Second, "authorised over a new RadSec connection", func() bool {
		_, err := a.Authorize(ctx, ipRequest("127.0.0.2"))
		return err == nil
	})

	wrongName, err := aaa.RadSecTLS(pki.CAFile, "other.test", pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	bad := radsec
	bad.TLS = wrongName
	other := aaa.NewAuthorizer(newClient(t, aaa.ClientConfig{Servers: []aaa.ServerConfig{bad}}), aaa.AuthConfig{})
	if _, err := other.Authorize(ctx, ipRequest("127.0.0.2")); err == nil {
		t.Error("authorised by a server whose certificate names another host")
	}
}
