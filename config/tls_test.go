package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testenv"
)

func TestSIPTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	c, err := Parse(fmt.Appendf(nil, `sip:
  listen: ["udp:127.0.0.1:5060", "tls:127.0.0.1:5061", "tls:127.0.0.1:5062"]
  tls_cert: %s
  tls_key: %s
  tls_ca: %s
  tls_verify_client: ["tls:127.0.0.1:5062"]
routes: [{prefix: "", gateways: [{address: "127.0.0.1:5081", transport: tls}]}]
`, pki.ServerCert, pki.ServerKey, pki.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	ls := c.SIP.Listeners()
	if ls[1].Transport != "tls" || ls[1].VerifyClient || !ls[2].VerifyClient {
		t.Errorf("listeners = %+v: want two tls, the second verifying clients", ls)
	}
}

// TestSIPTLSProblems: each mistake names the option at fault.
func TestSIPTLSProblems(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	for _, tc := range []struct{ yaml, want string }{
		{`sip: {listen: ["tls:127.0.0.1:5061"]}`, "sip.tls_cert: a tls: listen address needs a certificate"},
		{fmt.Sprintf(`sip: {listen: ["tls:127.0.0.1:5061"], tls_cert: %s}`, pki.ServerCert), "tls_cert and tls_key go together"},
		{fmt.Sprintf(`sip: {listen: ["tls:127.0.0.1:5061"], tls_cert: %s, tls_key: %s}`, pki.ServerCert, pki.ClientKey), "sip.tls_cert: tls: private key does not match"},
		{`sip: {listen: ["udp:127.0.0.1:5060"], tls_ca: /nonexistent.pem}`, "sip.tls_ca"},
		{fmt.Sprintf(`sip: {listen: ["udp:127.0.0.1:5060"], tls_verify_client: ["udp:127.0.0.1:5060"], tls_ca: %s}`, pki.CAFile),
			"sip.tls_verify_client[0]: \"udp:127.0.0.1:5060\": only a tls: listener"},
		{fmt.Sprintf(`sip: {listen: ["tls:127.0.0.1:5061"], tls_cert: %s, tls_key: %s, tls_verify_client: ["tls:127.0.0.1:5061"]}`, pki.ServerCert, pki.ServerKey),
			"needs sip.tls_ca"},
		{`sip: {tls_verify_client: ["tls:127.0.0.1:9"]}`, "is not one of sip.listen"},
		{`routes: [{prefix: "", gateways: [{address: "127.0.0.1:5081", transport: wss}]}]`, `"wss": want udp, tcp or tls`},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}
