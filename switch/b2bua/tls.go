package b2bua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/tollgate/tollgate/config"
)

// tlsState is what SIP over TLS reads on every handshake: the certificate
// the switch presents and the CAs it trusts. Both are swapped whole on
// reload (SIGHUP), so a renewed certificate or CA applies to the next
// connection while established ones keep theirs.
type tlsState struct {
	cert *tls.Certificate // nil: no tls_cert configured
	cas  *x509.CertPool   // nil: the system's roots
}

// loadTLS reads sip.tls_cert, sip.tls_key and sip.tls_ca.
func loadTLS(sc config.SIP) (*tlsState, error) {
	st := &tlsState{}
	if sc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("sip.tls_cert: %w", err)
		}
		st.cert = &cert
	}
	if sc.TLSCA != "" {
		pool, err := config.LoadCAPool(sc.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("sip.tls_ca: %w", err)
		}
		st.cas = pool
	}
	return st, nil
}

// reloadTLS swaps in the files' current contents. A failure keeps the
// previous certificate: a half-written renewal must not stop TLS service.
func (s *Switch) reloadTLS(sc config.SIP) {
	st, err := loadTLS(sc)
	if err != nil {
		s.log.Error("SIP TLS files not reloaded; keeping the previous ones", "error", err)
		return
	}
	s.tls.Store(st)
}

// serverTLS is the configuration of one tls: listener. It is resolved per
// handshake (GetConfigForClient) so that a reload reaches new connections
// without re-binding the port.
func (s *Switch) serverTLS(l *listener) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			st := s.tls.Load()
			if st.cert == nil {
				return nil, errors.New("no SIP TLS certificate")
			}
			c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*st.cert}}
			if l.verifyClient {
				c.ClientAuth = tls.RequireAndVerifyClientCert
				c.ClientCAs = st.cas
			}
			return c, nil
		},
	}
}

// clientTLS is the configuration of connections the switch opens to
// gateways. sipgo takes one tls.Config for the process, so the gateway's
// certificate is checked here against the current CAs (VerifyConnection)
// instead of a RootCAs fixed at start, and the client certificate offered
// is the current one.
func (s *Switch) clientTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is not skipped: VerifyConnection below does it with
		// the CAs in force at the handshake.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("gateway presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: s.tls.Load().cas, DNSName: cs.ServerName,
				Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if st := s.tls.Load(); st.cert != nil {
				return st.cert, nil
			}
			return &tls.Certificate{}, nil
		},
	}
}
