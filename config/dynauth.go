package config

import (
	"fmt"
	"net/netip"
)

// Message-Authenticator policies of a dynamic authorisation client.
const (
	MessageAuthRequired = "required"
	MessageAuthOptional = "optional"
)

// DynamicAuthorization is the RFC 5176 listener through which a billing or
// fraud system ends a call (Disconnect-Request) or changes its credit and
// interim interval (CoA-Request). Off unless Listen is set. Changes need a
// restart.
type DynamicAuthorization struct {
	// Listen is "udp:host:port", e.g. udp:127.0.0.1:3799 (RFC 5176's port).
	Listen  string              `yaml:"listen"`
	Clients []DynamicAuthClient `yaml:"clients"`
	addr    Listener            // parsed Listen
}

// DynamicAuthClient is one system allowed to send Disconnect and CoA
// requests; requests from any other address are dropped.
type DynamicAuthClient struct {
	Address string `yaml:"address"` // its source IP address
	// Secret is the shared secret. It is never logged.
	Secret string `yaml:"secret"`
	// MessageAuthenticator is required (default) or optional: a client that
	// cannot sign its requests with a Message-Authenticator must be marked
	// optional, and is then protected by MD5 alone (CVE-2024-3596).
	MessageAuthenticator string `yaml:"message_authenticator"`
}

// Enabled reports whether the listener runs.
func (d *DynamicAuthorization) Enabled() bool { return d.Listen != "" }

// Addr is the listening address as host:port.
func (d *DynamicAuthorization) Addr() string { return d.addr.Addr() }

func (d *DynamicAuthorization) applyDefaults() {
	for i := range d.Clients {
		if d.Clients[i].MessageAuthenticator == "" {
			d.Clients[i].MessageAuthenticator = MessageAuthRequired
		}
	}
}

func (v *validator) validateDynamicAuthorization(d *DynamicAuthorization) {
	const path = "radius.dynamic_authorization"
	if !d.Enabled() {
		if len(d.Clients) > 0 {
			v.addf(path+".listen", "clients are configured but no listen address")
		}
		return
	}
	l, err := parseListen(d.Listen)
	switch {
	case err != nil:
		v.addf(path+".listen", "%v", err)
	case l.Transport != "udp":
		v.addf(path+".listen", "%q: RFC 5176 runs over udp only", d.Listen)
	default:
		d.addr = l
	}
	if len(d.Clients) == 0 {
		v.addf(path+".clients", "the listener needs at least one client")
	}
	seen := map[netip.Addr]bool{}
	for i, c := range d.Clients {
		cp := fmt.Sprintf("%s.clients[%d]", path, i)
		a, err := netip.ParseAddr(c.Address)
		if err != nil {
			v.addf(cp+".address", "%q: want an IP address", c.Address)
		} else if seen[a.Unmap()] {
			v.addf(cp+".address", "%s is listed twice", c.Address)
		} else {
			seen[a.Unmap()] = true
		}
		if c.Secret == "" {
			v.addf(cp+".secret", "a client needs its shared secret")
		}
		if c.MessageAuthenticator != MessageAuthRequired && c.MessageAuthenticator != MessageAuthOptional {
			v.addf(cp+".message_authenticator", "%q: want required or optional", c.MessageAuthenticator)
		}
	}
}
