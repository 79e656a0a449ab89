package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
)

// validateSIPTLS checks the certificate files of SIP over TLS once, at
// load, so that check-config and a SIGHUP report a bad certificate or key
// before the switch serves with it.
func (v *validator) validateSIPTLS(c *Config) {
	s := &c.SIP
	hasTLS := slices.ContainsFunc(s.listeners, func(l Listener) bool { return l.Transport == "tls" })
	if (s.TLSCert == "") != (s.TLSKey == "") {
		v.addf("sip.tls_cert", "tls_cert and tls_key go together")
	}
	if hasTLS && s.TLSCert == "" {
		v.addf("sip.tls_cert", "a tls: listen address needs a certificate (tls_cert and tls_key)")
	}
	if s.TLSCert != "" && s.TLSKey != "" {
		if _, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey); err != nil {
			v.addf("sip.tls_cert", "%v", err)
		}
	}
	if s.TLSCA != "" {
		if _, err := LoadCAPool(s.TLSCA); err != nil {
			v.addf("sip.tls_ca", "%v", err)
		}
	}
	for i, e := range s.TLSVerifyClient {
		path := fmt.Sprintf("sip.tls_verify_client[%d]", i)
		l, err := parseListen(e)
		switch {
		case err != nil || !slices.Contains(s.Listen, e):
			v.addf(path, "%q is not one of sip.listen", e)
		case l.Transport != "tls":
			v.addf(path, "%q: only a tls: listener can verify client certificates", e)
		case s.TLSCA == "":
			v.addf(path, "verifying clients needs sip.tls_ca, the CA that signs their certificates")
		}
	}
}

// LoadCAPool reads PEM CA certificates into a pool.
func LoadCAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return pool, nil
}
