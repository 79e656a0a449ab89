package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tollgate/tollgate/config"
)

// Role is what a user may do: admin everything; operator calls and CDRs,
// including killing calls; viewer reads only.
type Role string

// The roles, least to most.
const (
	roleViewer   Role = "viewer"
	roleOperator Role = "operator"
	roleAdmin    Role = "admin"
)

// Roles accepted by AddUser.
const (
	RoleViewer   = roleViewer
	RoleOperator = roleOperator
	RoleAdmin    = roleAdmin
)

func (r Role) rank() int {
	switch r {
	case roleViewer:
		return 1
	case roleOperator:
		return 2
	case roleAdmin:
		return 3
	}
	return 0
}

func (r Role) valid() bool { return r.rank() > 0 }

// atLeast reports whether r may do what need may.
func (r Role) atLeast(need Role) bool { return r.valid() && r.rank() >= need.rank() }

// principal is who is making a request.
type principal struct {
	User
	viaToken bool
}

type ctxKey struct{}

func who(ctx context.Context) *principal {
	p, _ := ctx.Value(ctxKey{}).(*principal)
	return p
}

const sessionUser = "user_id"

// dummyHash is compared against when a login names no user, so a wrong
// user name takes as long as a wrong password and names cannot be probed.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tollgate-no-such-user"), bcryptCost)

// sessionPrincipal loads the user of the request's session; a disabled or
// deleted user's session ends, and so does one from before a password
// change.
func (s *Server) sessionPrincipal(r *http.Request) *principal {
	id := s.sessions.GetInt64(r.Context(), sessionUser)
	if id == 0 {
		return nil
	}
	u, err := s.store.userByID(r.Context(), id)
	if err == nil && s.sessions.GetString(r.Context(), sessionStamp) != passwordStamp(u.hash) {
		// The password changed since this session logged in.
		u.Disabled = true
	}
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, errNotFound) {
			s.log.Error("session user", "error", err)
		}
		s.sessions.Destroy(r.Context())
		return nil
	}
	return &principal{User: u}
}

// requirePage sends a visitor without a session to the login page.
func (s *Server) requirePage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.sessionPrincipal(r)
		if p == nil {
			target := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + urlQueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !s.validCSRF(r) {
			s.fail(w, r, http.StatusForbidden, "the form has expired or did not come from this site: reload the page and try again")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// requireAPI accepts an API token (Authorization: Bearer) or a session; a
// session's state-changing requests must carry its CSRF token in a header.
func (s *Server) requireAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *principal
		if auth := r.Header.Get("Authorization"); auth != "" {
			secret, ok := bearer(auth)
			if !ok {
				s.fail(w, r, http.StatusUnauthorized, "Authorization: want a Bearer token")
				return
			}
			u, err := s.store.userByToken(r.Context(), secret)
			if err != nil {
				if !errors.Is(err, errNotFound) {
					s.log.Error("API token lookup", "error", err)
				}
				s.fail(w, r, http.StatusUnauthorized, "invalid API token")
				return
			}
			p = &principal{User: u, viaToken: true}
		} else if p = s.sessionPrincipal(r); p == nil {
			s.fail(w, r, http.StatusUnauthorized, "log in or send an API token")
			return
		} else if r.Method != http.MethodGet && r.Method != http.MethodHead && !s.validCSRF(r) {
			s.fail(w, r, http.StatusForbidden, "missing or wrong X-CSRF-Token")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// role refuses a request whose user has less than need.
func (s *Server) role(need Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := who(r.Context()); p == nil || !p.Role.atLeast(need) {
				s.fail(w, r, http.StatusForbidden, "your role may not do this (needs "+string(need)+")")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// needDB answers every page and API call with a plain explanation when
// Tollgate runs without a database.
func (s *Server) needDB(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.store == nil {
			s.fail(w, r, http.StatusServiceUnavailable,
				"the web UI needs a database: set cdr.database in the configuration, run `tollgate migrate` and `tollgate user add`, then restart. Calls are switched and recorded without it.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the peer address. A reverse proxy's X-Forwarded-For is not
// trusted: anyone can send one.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) auditReq(r *http.Request, action, target, detail string) {
	e := AuditEntry{Action: action, Target: target, Detail: detail, IP: clientIP(r)}
	if p := who(r.Context()); p != nil {
		e.Actor = p.Name
		if p.viaToken {
			e.Actor += " (API token)"
		}
	}
	s.auditEntry(r.Context(), e)
}

func (s *Server) auditEntry(ctx context.Context, e AuditEntry) {
	if err := s.store.audit(ctx, e); err != nil {
		s.log.Error("audit log not written", "action", e.Action, "error", err)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.sessionPrincipal(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", s.newLoginView(r, safeNext(r.URL.Query().Get("next")), ""))
}

type loginView struct {
	Next, Name, Error string
	// PlainHTTP: the login cannot work from this page (plainHTTPLoop).
	PlainHTTP bool
}

func (s *Server) newLoginView(r *http.Request, next, name string) loginView {
	return loginView{Next: next, Name: name, PlainHTTP: s.sessions.Cookie.Secure && plainHTTPLoop(r)}
}

// plainHTTPLoop reports whether the browser reached this request over plain
// HTTP on a name that is not loopback: browsers keep a Secure cookie only
// from HTTPS or from localhost, so a login from there silently comes back
// to the login page. (Behind a proxy that serves HTTPS the browser keeps
// it; the proxy says so with X-Forwarded-Proto, which only turns the
// warning off, so trusting it grants nothing.)
func plainHTTPLoop(r *http.Request) bool {
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		return false
	}
	return !loopbackHost(r.Host)
}

// loopbackHost reports whether host (with or without a port) is localhost
// or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PlainHTTPWarning is what the log says at start when the web UI listens on
// plain HTTP beyond loopback ("" when it does not): either logins loop (the
// cookie is Secure) or passwords cross the network in clear.
func PlainHTTPWarning(w config.Web) string {
	if w.Disable || w.TLSCert != "" || loopbackHost(w.Listen) {
		return ""
	}
	if !w.InsecureCookies {
		return "web UI on plain HTTP beyond loopback: browsers drop its Secure session cookie there, so logins come back to the login page; set web.tls_cert and web.tls_key, listen on 127.0.0.1 behind an SSH tunnel or an HTTPS proxy, or set web.insecure_cookies: true on a trusted network"
	}
	return "web UI on plain HTTP beyond loopback with web.insecure_cookies: passwords and session cookies cross the network in clear; prefer web.tls_cert and web.tls_key"
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "the login form is too large")
			return
		}
		s.fail(w, r, http.StatusBadRequest, "bad form")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	password := r.PostForm.Get("password")
	view := s.newLoginView(r, safeNext(r.PostForm.Get("next")), name)
	ip := clientIP(r)
	at := attempt{name: name, ip: ip}
	if c, err := r.Cookie(deviceCookie); err == nil {
		at.trusted = s.throttle.trustedDevice(c.Value, name)
	}
	if wait := s.throttle.blocked(at); wait > 0 {
		s.auditEntry(r.Context(), AuditEntry{Actor: name, Action: auditLoginLimited, IP: ip})
		w.Header().Set("Retry-After", retryAfter(wait))
		view.Error = "Too many failed logins. Try again in " + humanWait(wait) + "."
		s.render(w, r, http.StatusTooManyRequests, "login", view)
		return
	}
	// A name PostgreSQL cannot take as text names nobody; it is not an outage.
	var u User
	err := errNotFound
	if plainText(name) {
		u, err = s.store.userByName(r.Context(), name)
	}
	if err != nil && !errors.Is(err, errNotFound) {
		s.log.Error("login", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	hash := u.hash
	if err != nil {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u.Disabled || err != nil {
		s.throttle.failed(at)
		s.auditEntry(r.Context(), AuditEntry{Actor: name, Action: auditLoginFailed, IP: ip})
		view.Error = "Wrong user name or password."
		s.render(w, r, http.StatusUnauthorized, "login", view)
		return
	}
	s.throttle.succeeded(at)
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookie, Value: s.throttle.deviceMAC(u.Name), Path: "/login",
		MaxAge: int((30 * 24 * time.Hour).Seconds()), HttpOnly: true,
		Secure: !s.opt.Web.InsecureCookies, SameSite: http.SameSiteStrictMode,
	})
	// A new session token on login defeats session fixation.
	if err := s.sessions.RenewToken(r.Context()); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "session error")
		return
	}
	s.sessions.Put(r.Context(), sessionUser, u.ID)
	s.sessions.Put(r.Context(), sessionCSRF, newSecret())
	s.sessions.Put(r.Context(), sessionStamp, passwordStamp(u.hash))
	if err := s.store.touchLogin(r.Context(), u.ID); err != nil {
		s.log.Warn("last login not recorded", "error", err)
	}
	s.auditEntry(r.Context(), AuditEntry{Actor: u.Name, Action: auditLogin, IP: ip})
	http.Redirect(w, r, view.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auditReq(r, auditLogout, "", "")
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.log.Error("logout", "error", err)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(h string) (string, bool) {
	t, ok := strings.CutPrefix(h, "Bearer ")
	t = strings.TrimSpace(t)
	return t, ok && t != ""
}
