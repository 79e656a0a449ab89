package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Authorisation modes of a call, per route (routes[].auth) or switch-wide
// (radius.auth).
const (
	AuthNone   = "none"   // no RADIUS authorisation
	AuthIP     = "ip"     // User-Name is the caller's source IP
	AuthDigest = "digest" // the caller answers a 407 challenge; RADIUS checks the digest
)

// What radius.auth_unavailable does with a call no auth server answered for.
const (
	AuthUnavailableReject = "reject"
	AuthUnavailableAccept = "accept"
)

// Radius configures RADIUS authorisation and accounting, spoken as a Cisco
// voice gateway or Sippy B2BUA does. With no servers configured Tollgate
// uses no RADIUS at all.
type Radius struct {
	// Auth is the authorisation mode of routes that set none themselves,
	// and of calls no static route matches: none (default), ip or digest.
	Auth        string         `yaml:"auth"`
	AuthServers []RadiusServer `yaml:"auth_servers"`
	// AuthUnavailable says what happens to a call no auth server answers
	// for (timeouts, or only invalid replies): reject (default: 503) or
	// accept (the call goes on unauthorised, by its static route, marked
	// in its CDR, and accounted as usual). A server's Access-Reject is
	// always a refusal.
	AuthUnavailable string         `yaml:"auth_unavailable"`
	AcctServers     []RadiusServer `yaml:"acct_servers"`
	// RoundRobin spreads requests over the servers of a group instead of
	// always starting with the first; the rest stay the failover order.
	RoundRobin bool `yaml:"round_robin"`
	// ProbeInterval is how often a server marked down is health-checked.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// StatusInterval, when set, probes every server with Status-Server
	// (RFC 5997) at this interval, up or down: a server that answered
	// probes and stops is marked down before a call waits on it. 0: off.
	StatusInterval time.Duration `yaml:"status_interval"`
	// IPPassword is the User-Password of IP authorisation ("cisco", as
	// Sippy B2BUA and Cisco gateways send). It is never logged.
	IPPassword string `yaml:"ip_password"`
	// NASIPAddress, when set, is sent as NAS-IP-Address.
	NASIPAddress string `yaml:"nas_ip_address"`
	// Realm is the digest realm of Tollgate's challenges.
	Realm string `yaml:"realm"`
	// NonceLifetime bounds how long a challenge may be answered.
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
	// ReturnCodes override the SIP response of an h323-return-code.
	ReturnCodes map[int]SIPResponse `yaml:"return_codes"`
	Accounting  Accounting          `yaml:"accounting"`
	// DynamicAuthorization receives Disconnect and CoA requests (RFC 5176).
	DynamicAuthorization DynamicAuthorization `yaml:"dynamic_authorization"`
}

// RadiusServer is one RADIUS server.
type RadiusServer struct {
	Address string `yaml:"address"` // host:port
	// Secret is the shared secret. It is never logged.
	Secret  string        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"` // per try; default 2s
	Retries int           `yaml:"retries"` // tries after the first; default 2, -1 none
	// RequireMessageAuthenticator refuses replies without a valid
	// Message-Authenticator (BlastRADIUS, CVE-2024-3596).
	RequireMessageAuthenticator bool `yaml:"require_message_authenticator"`
	// Transport is udp (default) or tls: RadSec (RFC 6614), one long-lived
	// TLS connection to the server; its secret defaults to "radsec".
	Transport string    `yaml:"transport"`
	TLS       RadiusTLS `yaml:"tls"`
}

// Transports of a RADIUS server.
const (
	TransportUDP = "udp"
	TransportTLS = "tls"
)

// RadiusTLS is the client side of a RadSec connection, from PEM files.
type RadiusTLS struct {
	CAFile string `yaml:"ca_file"` // the CA that signs the server's certificate: the only one trusted
	// ServerName is the name the server's certificate must carry; default
	// the host of the server's address.
	ServerName string `yaml:"server_name"`
	CertFile   string `yaml:"cert_file"` // Tollgate's certificate, which servers usually require
	KeyFile    string `yaml:"key_file"`
}

// SIPResponse is a final response a refusal gets.
type SIPResponse struct {
	Code   int    `yaml:"code"`
	Reason string `yaml:"reason"`
}

// Accounting configures RADIUS accounting: one session per leg.
type Accounting struct {
	// StartOnConnect sends Start records when a call connects (default
	// true); Stop records are sent for every leg whatever this says.
	StartOnConnect *bool `yaml:"start_on_connect"`
	// Interim is the Interim-Update interval of connected calls; 0: none.
	// An Access-Accept's Acct-Interim-Interval (or a CoA-Request's) sets
	// a call's own interval instead, kept within InterimMin and InterimMax.
	Interim time.Duration `yaml:"interim"`
	// InterimMin is the shortest interval a server may set; default 60s,
	// the least RFC 2869 allows, so one account cannot flood the servers.
	InterimMin time.Duration `yaml:"interim_min"`
	// InterimMax is the longest interval a server may set; 0: no bound.
	InterimMax time.Duration `yaml:"interim_max"`
	// SessionIDPerLeg puts each leg's own Call-ID in Acct-Session-Id, as
	// Cisco gateways do; the default is Sippy B2BUA's incoming Call-ID on
	// every leg.
	SessionIDPerLeg bool `yaml:"session_id_per_leg"`
	// QueueDir holds the records no server answered until they are resent;
	// default <cdr.dir>/radius-queue.
	QueueDir string `yaml:"queue_dir"`
}

// Prepaid bounds the credit time of calls.
type Prepaid struct {
	// MaxCredit is the longest any call may last after connect; 0: no
	// switch-wide bound (RADIUS and route credit still apply).
	MaxCredit time.Duration `yaml:"max_credit"`
	// NoCredit is the response to a call granted no credit; default 402.
	NoCredit SIPResponse `yaml:"no_credit"`
	// ReauthorizeBefore, when set, has a connected call with RADIUS credit
	// ask the auth server for more this long before its grant ends
	// (docs/radius.md); a route's reauth= parameter overrides it. 0: off.
	ReauthorizeBefore time.Duration `yaml:"reauthorize_before"`
}

// CallLimits are the per-account, per-gateway and per-source limits, set
// under limits: beside max_calls. Zero means no limit.
type CallLimits struct {
	AccountCalls   int     `yaml:"account_calls"`    // parallel calls per RADIUS User-Name
	GatewayCalls   int     `yaml:"gateway_calls"`    // parallel calls per gateway address
	CallsPerSecond float64 `yaml:"calls_per_second"` // new calls per second per source IP
	Burst          int     `yaml:"burst"`            // calls a source may send at once; default the rate
}

// Enabled reports whether any RADIUS server is configured.
func (r *Radius) Enabled() bool { return len(r.AuthServers)+len(r.AcctServers) > 0 }

// StartRecords reports whether Start records are sent at connect.
func (a Accounting) StartRecords() bool { return a.StartOnConnect == nil || *a.StartOnConnect }

func (c *Config) applyRadiusDefaults() {
	r := &c.Radius
	if r.Auth == "" {
		r.Auth = AuthNone
	}
	if r.AuthUnavailable == "" {
		r.AuthUnavailable = AuthUnavailableReject
	}
	if r.IPPassword == "" {
		r.IPPassword = "cisco"
	}
	if r.Realm == "" {
		r.Realm = "tollgate"
	}
	if r.NonceLifetime == 0 {
		r.NonceLifetime = 60 * time.Second
	}
	if r.ProbeInterval == 0 {
		r.ProbeInterval = 5 * time.Second
	}
	for _, group := range [][]RadiusServer{r.AuthServers, r.AcctServers} {
		for i := range group {
			if group[i].Timeout == 0 {
				group[i].Timeout = 2 * time.Second
			}
			applyTransportDefaults(&group[i])
		}
	}
	r.DynamicAuthorization.applyDefaults()
	if r.Accounting.InterimMin == 0 {
		r.Accounting.InterimMin = time.Minute
	}
	if r.Accounting.QueueDir == "" {
		r.Accounting.QueueDir = filepath.Join(c.CDR.Dir, "radius-queue")
	}
	if c.Prepaid.NoCredit.Code == 0 {
		c.Prepaid.NoCredit = SIPResponse{402, "No Credit"}
	}
	for i := range c.Routes {
		if c.Routes[i].Auth == "" {
			c.Routes[i].Auth = r.Auth
		}
	}
}

func validAuth(m string) bool { return m == AuthNone || m == AuthIP || m == AuthDigest }

func (v *validator) validateRadius(c *Config) {
	r := &c.Radius
	if !validAuth(r.Auth) {
		v.addf("radius.auth", "%q: want none, ip or digest", r.Auth)
	}
	if r.AuthUnavailable != AuthUnavailableReject && r.AuthUnavailable != AuthUnavailableAccept {
		v.addf("radius.auth_unavailable", "%q: want %s or %s", r.AuthUnavailable, AuthUnavailableReject, AuthUnavailableAccept)
	}
	needAuth := r.Auth != AuthNone
	for i := range c.Routes {
		rt := &c.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		if !validAuth(rt.Auth) {
			v.addf(path+".auth", "%q: want none, ip or digest", rt.Auth)
		}
		needAuth = needAuth || rt.Auth == AuthIP || rt.Auth == AuthDigest
		if rt.CreditTime < 0 {
			v.addf(path+".credit_time", "must not be negative")
		}
	}
	if needAuth && len(r.AuthServers) == 0 {
		v.addf("radius.auth_servers", "authorisation by ip or digest needs at least one auth server")
	}
	for _, group := range []struct {
		name    string
		servers []RadiusServer
	}{{"auth_servers", r.AuthServers}, {"acct_servers", r.AcctServers}} {
		for i, s := range group.servers {
			path := fmt.Sprintf("radius.%s[%d]", group.name, i)
			if _, _, err := splitHostPort(s.Address); err != nil {
				v.addf(path+".address", "%v", err)
			}
			if s.Secret == "" {
				v.addf(path+".secret", "a server needs its shared secret")
			}
			v.validateTransport(path, s)
			if s.Timeout < 0 {
				v.addf(path+".timeout", "must be a positive duration such as 2s")
			}
			if s.Retries < -1 {
				v.addf(path+".retries", "want -1 (no retry) or more")
			}
		}
	}
	v.validateDynamicAuthorization(&r.DynamicAuthorization)
	v.positive("radius.nonce_lifetime", r.NonceLifetime)
	v.positive("radius.probe_interval", r.ProbeInterval)
	if r.StatusInterval < 0 {
		v.addf("radius.status_interval", "must not be negative (0 turns probing off)")
	}
	if r.NASIPAddress != "" {
		if a, err := netip.ParseAddr(r.NASIPAddress); err != nil || !a.Is4() {
			v.addf("radius.nas_ip_address", "%q: want an IPv4 address", r.NASIPAddress)
		}
	}
	for rc, resp := range r.ReturnCodes {
		path := fmt.Sprintf("radius.return_codes.%d", rc)
		if rc <= 0 {
			v.addf(path, "h323-return-code %d: want 1 or more (0 is success)", rc)
		}
		v.sipFailure(path+".code", resp.Code)
	}
	if r.Accounting.Interim < 0 {
		v.addf("radius.accounting.interim", "must not be negative")
	} else if r.Accounting.Interim > 0 && r.Accounting.Interim < time.Second {
		v.addf("radius.accounting.interim", "want at least 1s")
	}
	if a := r.Accounting; a.InterimMin < time.Second {
		v.addf("radius.accounting.interim_min", "want at least 1s")
	} else if a.InterimMax != 0 && a.InterimMax < a.InterimMin {
		v.addf("radius.accounting.interim_max", "want 0 (no bound) or at least interim_min (%v)", a.InterimMin)
	}
	if c.Prepaid.MaxCredit < 0 {
		v.addf("prepaid.max_credit", "must not be negative")
	}
	if c.Prepaid.ReauthorizeBefore < 0 {
		v.addf("prepaid.reauthorize_before", "must not be negative (0 turns re-authorisation off)")
	}
	v.sipFailure("prepaid.no_credit.code", c.Prepaid.NoCredit.Code)
	l := c.Limits.CallLimits
	for _, n := range []struct {
		path string
		n    int
	}{{"limits.account_calls", l.AccountCalls}, {"limits.gateway_calls", l.GatewayCalls}, {"limits.burst", l.Burst}} {
		if n.n < 0 {
			v.addf(n.path, "must not be negative")
		}
	}
	if l.CallsPerSecond < 0 {
		v.addf("limits.calls_per_second", "must not be negative")
	}
}

func (v *validator) sipFailure(path string, code int) {
	if code < 400 || code > 699 {
		v.addf(path, "%d: want a SIP failure code 400-699", code)
	}
}
