package b2bua

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

// tlsSwitch runs a switch listening on UDP (for waitListening) and on TLS
// at tlsPort, presenting the PKI's server certificate and trusting its CA;
// extra is appended to the sip: section, yaml after it.
func tlsSwitch(t *testing.T, pki *testenv.TestPKI, extra, yaml string) (*testSwitch, int) {
	t.Helper()
	port, tlsPort := testenv.FreePort(t), testenv.FreePort(t)
	cfg, err := config.Parse(fmt.Appendf(nil, `sip:
  listen: ["udp:127.0.0.1:%d", "tls:127.0.0.1:%d"]
  tls_cert: %s
  tls_key: %s
  tls_ca: %s
%s%s`, port, tlsPort, pki.ServerCert, pki.ServerKey, pki.CAFile, extra, yaml))
	if err != nil {
		t.Fatal(err)
	}
	return runSwitch(t, cfg, port, Options{}, nil), tlsPort
}

// peerTLS is the TLS configuration of a sipgo peer: the PKI's server
// certificate on its own port, the PKI's CA to check the switch, and, when
// clientCert, the PKI's client certificate to present to it.
func peerTLS(t *testing.T, pki *testenv.TestPKI, clientCert bool) *tls.Config {
	t.Helper()
	srv, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := config.LoadCAPool(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{srv}, RootCAs: roots,
		// Without it a client offers its server certificate when asked for one.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }}
	if clientCert {
		cli, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cli, nil }
	}
	return c
}

func tlsURI(user string, port int) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tls")
	return u
}

// TestCallOverTLS: a caller reaches the switch over TLS, the switch
// reaches a transport: tls gateway over TLS, every request of both legs
// (INVITE, ACK, BYE) travels on TLS, and the call ends with one record.
func TestCallOverTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	gw := startPeerTLS(t, "gw", "127.0.0.1", nil, peerTLS(t, pki, false))
	gw.answer(0, nil)
	sw, tlsPort := tlsSwitch(t, pki, "", fmt.Sprintf(
		"routes: [{prefix: \"\", gateways: [{address: %q, transport: tls}]}]\n", gw.addr()))
	caller := startPeerTLS(t, "caller", "127.0.0.1", nil, peerTLS(t, pki, false))
	ds, _ := place(t, caller, tlsURI("100", tlsPort), sdpOffer, nil)
	inv := gw.invites()[0]
	if inv.Transport() != "TLS" || inv.Via().Transport != "TLS" {
		t.Errorf("gateway's INVITE came over %s with Via %s, want TLS", inv.Transport(), inv.Via().Transport)
	}
	if tr, _ := inv.Contact().Address.UriParams.Get("transport"); tr != "tls" {
		t.Errorf("gateway's INVITE Contact %s: want transport=tls", inv.Contact().Address.String())
	}
	if tr, _ := inv.Recipient.UriParams.Get("transport"); tr != "tls" {
		t.Errorf("gateway's Request-URI %s: want transport=tls", inv.Recipient.String())
	}
	ack := gw.waitRequest(sip.ACK, 5*time.Second)
	if ack.Transport() != "TLS" {
		t.Errorf("gateway's ACK came over %s", ack.Transport())
	}
	r := hangUp(t, sw, gw, ds)
	if r.SIPCode != 200 || r.ReleasedBy != "caller" || r.ConnectTime.IsZero() {
		t.Errorf("record: code %d released by %q connected %v, want an answered call the caller ended",
			r.SIPCode, r.ReleasedBy, r.ConnectTime)
	}
	gw.mu.Lock()
	for _, req := range gw.received {
		if req.Transport() != "TLS" {
			t.Errorf("gateway's %s came over %s", req.Method, req.Transport())
		}
	}
	gw.mu.Unlock()
	sw.noRecord(t)
}

// TestTLSClientCertificateRequired: on a listener in tls_verify_client a
// caller without a certificate is refused at the handshake, while one
// with a certificate from the CA reaches the gateway.
func TestTLSClientCertificateRequired(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	gw := newPeer(t, "gw")
	gw.answer(0, nil)
	port := testenv.FreePort(t)
	tlsPort := testenv.FreePort(t)
	cfg, err := config.Parse(fmt.Appendf(nil, `sip:
  listen: ["udp:127.0.0.1:%d", "tls:127.0.0.1:%d"]
  tls_cert: %s
  tls_key: %s
  tls_ca: %s
  tls_verify_client: ["tls:127.0.0.1:%d"]
routes: [{prefix: "", gateways: [{address: %q}]}]
`, port, tlsPort, pki.ServerCert, pki.ServerKey, pki.CAFile, tlsPort, gw.addr()))
	if err != nil {
		t.Fatal(err)
	}
	sw := runSwitch(t, cfg, port, Options{}, nil)

	// With TLS 1.3 the client's handshake ends before the server checks
	// its certificate: the refusal arrives as the answer to its first
	// message, where a sipgo caller would only time out.
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	conn, err := tls.Dial("tcp", addr, peerTLS(t, pki, false))
	if err == nil {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err = conn.Write([]byte(optionsMsg(addr, 70))); err == nil {
			var buf [512]byte
			var n int
			n, err = conn.Read(buf[:])
			if err == nil {
				t.Fatalf("a client without a certificate was answered: %q", buf[:n])
			}
		}
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("a client without a certificate: %v, want the handshake refused", err)
	}
	known := startPeerTLS(t, "known", "127.0.0.1", nil, peerTLS(t, pki, true))
	ds, _ := place(t, known, tlsURI("100", tlsPort), sdpOffer, nil)
	hangUp(t, sw, gw, ds)
}

// TestTLSCertificateReload: after the certificate files change and the
// switch reloads, new TLS connections are served the new certificate.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	pki := testenv.NewTestPKI(t)
	sw, tlsPort := tlsSwitch(t, pki, "", "")
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	served := func() *x509.Certificate {
		conn, err := tls.Dial("tcp", addr, &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if got := served(); got.Subject.CommonName != pki.ServerName {
		t.Fatalf("served %q before the reload, want %q", got.Subject.CommonName, pki.ServerName)
	}
	// A fresh PKI's server certificate has another serial's key: copy it
	// over the files the configuration names.
	renewed := testenv.NewTestPKI(t)
	before := served()
	for src, dst := range map[string]string{renewed.ServerCert: pki.ServerCert, renewed.ServerKey: pki.ServerKey} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !served().Equal(before) {
		t.Fatal("the certificate changed before the reload")
	}
	sw.Reload(sw.Config())
	if got := served(); got.Equal(before) {
		t.Error("the old certificate is still served after the reload")
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded: the floor is TLS 1.2")
	}
}
