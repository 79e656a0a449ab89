package aaa

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"
)

// Transport is how a server is reached.
type Transport int

// Transports. RadSec (RFC 6614) carries the same packets over one
// long-lived TLS connection per server, protected by TLS rather than by
// MD5 alone (BlastRADIUS-class attacks); its shared secret is "radsec"
// by convention, but any configured one is used.
const (
	TransportUDP Transport = iota
	TransportTLS
)

// tlsWire is a RadSec connection: packets are framed by their own Length
// field on the stream.
type tlsWire struct{ *tls.Conn }

func (w tlsWire) readPacket(buf []byte) (int, error) {
	if _, err := io.ReadFull(w.Conn, buf[:4]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(buf[2:4]))
	if n < 20 || n > len(buf) {
		// The stream cannot be resynchronised past a bad length.
		return 0, fmt.Errorf("%w: RadSec packet length %d", ErrMalformed, n)
	}
	if _, err := io.ReadFull(w.Conn, buf[4:n]); err != nil {
		return 0, err
	}
	return n, nil
}

func (w tlsWire) write(b []byte) error {
	_, err := w.Write(b)
	return err
}

func (w tlsWire) close() error     { return w.Close() }
func (w tlsWire) remote() net.Addr { return w.RemoteAddr() }
func (w tlsWire) stream() bool     { return true }

// dialTLSConn opens a RadSec connection to addr, the handshake (with the
// server's certificate checked against cfg's roots and server name)
// bounded by timeout.
func dialTLSConn(addr string, cfg *tls.Config, timeout time.Duration, log *slog.Logger) (*conn, error) {
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return newConn(tlsWire{c}, log), nil
}

// RadSecTLS builds the client side of RadSec from PEM files: the CA that
// signs the servers' certificates (the only roots trusted), the name the
// server's certificate must carry, and Tollgate's own certificate and key,
// which RadSec servers usually require (empty: none sent).
func RadSecTLS(caFile, serverName, certFile, keyFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("radius: RadSec CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("radius: RadSec CA %s: no PEM certificate", caFile)
	}
	if serverName == "" {
		return nil, errors.New("radius: RadSec needs the server name its certificate carries")
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("radius: RadSec client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
