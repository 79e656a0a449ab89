package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRadSecThroughTheBinary: a SIPp call authorised and accounted over
// RadSec, as configured (transport: tls, certificates from files): the
// Access-Accept's route takes it to the SIPp gateway, and FreeRADIUS's TLS
// listener writes both legs' Start and Stop.
func TestRadSecThroughTheBinary(t *testing.T) {
	t.Parallel()
	gw := uas(t, "uas.xml", nil)
	pki := testenv.NewTestPKI(t)
	fr := testenv.StartFreeRADIUS(t, testenv.FreeRADIUSOptions{TLS: pki, Users: fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	Cisco-AVPair = "h323-ivr-in=Routing:%s"
`, gw.Addr())})
	tlsServer := fmt.Sprintf(`{address: %q, transport: tls, tls: {ca_file: %q, server_name: %q, cert_file: %q, key_file: %q}}`,
		fr.TLSAddr, pki.CAFile, pki.ServerName, pki.ClientCert, pki.ClientKey)
	p := startTollgate(t, fmt.Sprintf("radius:\n  auth: ip\n  auth_servers: [%s]\n  acct_servers: [%s]\nweb: {disable: true}\n",
		tlsServer, tlsServer))
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "15551230002", Calls: 1, Rate: 10,
		Timeout: 30 * time.Second})
	if st.Successful != 1 {
		t.Fatalf("call over RadSec: %s", st)
	}
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	recs, err := fr.WaitDetail(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range recs {
		n[r.Get("Acct-Status-Type")]++
	}
	if n["Start"] != 2 || n["Stop"] != 2 {
		t.Errorf("accounting over RadSec: %v", n)
	}
}
