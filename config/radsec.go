package config

import "net"

func applyTransportDefaults(s *RadiusServer) {
	if s.Transport == "" {
		s.Transport = TransportUDP
	}
	if s.Transport != TransportTLS {
		return
	}
	if s.Secret == "" {
		s.Secret = "radsec" // RFC 6614 §2.3: TLS protects the packets, not the secret
	}
	if s.TLS.ServerName == "" {
		s.TLS.ServerName, _, _ = net.SplitHostPort(s.Address)
	}
}

func (v *validator) validateTransport(path string, s RadiusServer) {
	switch s.Transport {
	case TransportUDP:
		if s.TLS != (RadiusTLS{}) {
			v.addf(path+".tls", "TLS settings need transport: tls")
		}
	case TransportTLS:
		if s.TLS.CAFile == "" {
			v.addf(path+".tls.ca_file", "RadSec needs the CA that signs the server's certificate")
		}
		if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
			v.addf(path+".tls", "cert_file and key_file go together")
		}
	default:
		v.addf(path+".transport", "%q: want udp or tls", s.Transport)
	}
}
