package config

import (
	"strings"
	"testing"
)

func TestRadSecServers(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`radius:
  auth_servers:
    - {address: "radius.example.net:2083", transport: tls, tls: {ca_file: /etc/tollgate/ca.pem, cert_file: c.pem, key_file: c.key}}
  acct_servers:
    - {address: "127.0.0.1:1813", secret: s}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Radius.AuthServers[0]
	if s.Transport != TransportTLS || s.Secret != "radsec" || s.TLS.ServerName != "radius.example.net" {
		t.Errorf("RadSec server = %+v", s)
	}
	if a := c.Radius.AcctServers[0]; a.Transport != TransportUDP {
		t.Errorf("UDP server = %+v", a)
	}
	_, err = Parse([]byte(`radius:
  auth_servers:
    - {address: "127.0.0.1:2083", transport: tls, tls: {cert_file: c.pem}}
    - {address: "127.0.0.1:1812", secret: s, transport: sctp}
    - {address: "127.0.0.1:1812", secret: s, tls: {ca_file: ca.pem}}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		"radius.auth_servers[0].tls.ca_file", "radius.auth_servers[0].tls: cert_file and key_file",
		"radius.auth_servers[1].transport", "radius.auth_servers[2].tls: TLS settings need transport: tls",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
