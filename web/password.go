package web

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/crypto/bcrypt"
)

// sessionStamp is the session key of a fingerprint of the user's password
// hash at login. Changing the password changes the hash (bcrypt salts each
// one), so every other session of the user stops at its next request:
// sessionPrincipal compares the stamp with the user's hash, which it loads
// anyway. Nothing has to find and delete the other sessions, and a request
// of theirs in flight cannot bring one back by saving it.
const sessionStamp = "password_stamp"

func passwordStamp(hash []byte) string {
	h := sha256.Sum256(hash)
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// checkPassword enforces the rules of a new password.
func checkPassword(password string) error {
	if len(password) < MinPasswordLen {
		return fmt.Errorf("a password has at least %d characters", MinPasswordLen)
	}
	if len(password) > 72 {
		return errors.New("a password has at most 72 bytes (bcrypt's limit)")
	}
	return nil
}

// changePassword changes the requesting user's own password after checking
// the current one, and returns the HTTP status and what to tell the user.
// Wrong current passwords are throttled: a stolen session or a leaked API
// token must not become a way to guess the password. A session's count with
// its address's logins of that name; a token's on their own, so that they
// cannot lock the user's login (throttle.go).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, current, next string) (int, string) {
	if current == "" {
		return http.StatusBadRequest, "the current password is required"
	}
	p := who(r.Context())
	at := attempt{name: p.Name, ip: clientIP(r), trusted: true, token: p.viaToken}
	if wait := s.throttle.blocked(at); wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		return http.StatusTooManyRequests, "too many wrong passwords: try again in " + humanWait(wait)
	}
	u, err := s.store.userByID(r.Context(), p.ID)
	if err != nil {
		s.log.Error("password change", "error", err)
		return http.StatusServiceUnavailable, "the user database is unavailable"
	}
	if bcrypt.CompareHashAndPassword(u.hash, []byte(current)) != nil {
		s.throttle.failed(at)
		s.auditReq(r, auditPasswordFailed, u.Name, "wrong current password")
		return http.StatusForbidden, "the current password is wrong"
	}
	if err := checkPassword(next); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if next == current {
		return http.StatusBadRequest, "the new password is the current one"
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), bcryptCost)
	if err != nil {
		return http.StatusInternalServerError, "the password could not be hashed"
	}
	if err := s.store.setPassword(r.Context(), u.ID, hash); err != nil {
		s.log.Error("password change", "error", err)
		return http.StatusServiceUnavailable, "the user database is unavailable"
	}
	s.throttle.succeeded(at)
	if !p.viaToken {
		// This session goes on, under a new token, with the new stamp.
		if err := s.sessions.RenewToken(r.Context()); err != nil {
			s.log.Error("password change: session", "error", err)
		}
		s.sessions.Put(r.Context(), sessionStamp, passwordStamp(hash))
	}
	s.auditReq(r, auditPasswordChange, u.Name, "other sessions logged out")
	return http.StatusOK, "password changed; your other sessions are logged out"
}

type accountView struct {
	Me    User
	Error string
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, "")
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, code int, msg string) {
	u, err := s.store.userByID(r.Context(), who(r.Context()).ID)
	if err != nil {
		s.log.Error("account page", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	s.render(w, r, code, "account", accountView{Me: u, Error: msg})
}

func (s *Server) changePasswordForm(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("password")
	if next != r.PostFormValue("confirm") {
		s.renderAccount(w, r, http.StatusBadRequest, "the new password and its confirmation differ")
		return
	}
	code, msg := s.changePassword(w, r, r.PostFormValue("current"), next)
	if code != http.StatusOK {
		s.renderAccount(w, r, code, msg)
		return
	}
	s.flash(r, msg)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// passwordChange is the body of POST /api/v1/me/password.
type passwordChange struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	var body passwordChange
	if !decodeJSON(w, r, &body) {
		s.fail(w, r, http.StatusBadRequest, `want a JSON object {"current_password": "...", "new_password": "..."}`)
		return
	}
	code, msg := s.changePassword(w, r, body.Current, body.New)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": msg})
}
