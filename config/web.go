package config

import (
	"net"
	"time"
)

// Web is the admin UI, the JSON API and /metrics. It needs cdr.database for
// users, sessions and the audit log; without one it says so on every page.
type Web struct {
	// Disable turns the web server off.
	Disable bool `yaml:"disable"`
	// Listen is the host:port of the web server; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// InsecureCookies drops the Secure flag of the session cookie, for
	// plain HTTP on an address other than loopback (browsers refuse Secure
	// cookies there). Prefer TLS.
	InsecureCookies bool `yaml:"insecure_cookies"`
	// SessionLifetime is the longest a login lasts; IdleTimeout ends a
	// session nobody used for that long.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
}

func (w *Web) applyDefaults() {
	if w.Listen == "" {
		w.Listen = "127.0.0.1:8080"
	}
	if w.SessionLifetime == 0 {
		w.SessionLifetime = 12 * time.Hour
	}
	if w.IdleTimeout == 0 {
		w.IdleTimeout = time.Hour
	}
}

func (v *validator) validateWeb(w *Web) {
	if w.Disable {
		return
	}
	if _, _, err := net.SplitHostPort(w.Listen); err != nil {
		v.addf("web.listen", "%q: want host:port", w.Listen)
	}
	if (w.TLSCert == "") != (w.TLSKey == "") {
		v.addf("web.tls_cert", "tls_cert and tls_key go together")
	}
	v.positive("web.session_lifetime", w.SessionLifetime)
	v.positive("web.idle_timeout", w.IdleTimeout)
}
