package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

type usersView struct {
	Users  []User
	Tokens map[int64][]Token
	Roles  []Role
	// Secret is a password or token just created, shown once.
	Secret, SecretWhat string
}

func (s *Server) usersView(r *http.Request) (usersView, error) {
	v := usersView{Tokens: map[int64][]Token{}, Roles: []Role{roleViewer, roleOperator, roleAdmin}}
	var err error
	if v.Users, err = s.store.users(r.Context()); err != nil {
		return v, err
	}
	toks, err := s.store.tokens(r.Context())
	for _, t := range toks {
		v.Tokens[t.UserID] = append(v.Tokens[t.UserID], t)
	}
	return v, err
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, "", "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, code int, secret, what string) {
	v, err := s.usersView(r)
	if err != nil {
		s.log.Error("users", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	v.Secret, v.SecretWhat = secret, what
	s.render(w, r, code, "users", v)
}

// addUserForm creates a user with a generated password, shown once: the
// admin hands it over and nobody chose a weak one.
func (s *Server) addUserForm(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := Role(r.PostFormValue("role"))
	password := NewPassword()
	if _, err := AddUser(r.Context(), s.db, name, role, password); err != nil {
		s.fail(w, r, http.StatusBadRequest, "user not added: "+err.Error())
		return
	}
	s.auditReq(r, auditUserAdd, name, "role "+string(role))
	s.renderUsers(w, r, http.StatusOK, password, "Password of "+name)
}

func (s *Server) pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, http.StatusBadRequest, "bad id")
		return 0, false
	}
	return id, true
}

// userAction is one admin action on another user, shared by the UI's forms
// and the API: it returns the user as it was before, or the HTTP status and
// the message of the refusal.
func (s *Server) userAction(r *http.Request, id int64, c userChange) (User, int, string) {
	if id == who(r.Context()).ID && (c.delete || c.disabled != nil || c.role != "" || c.hash != nil) {
		return User{}, http.StatusBadRequest, "not on yourself: another admin must do it (your own password: the Account page)"
	}
	u, err := changeUser(r.Context(), s.db, id, c)
	switch {
	case errors.Is(err, errNotFound):
		return u, http.StatusNotFound, "no such user"
	case errors.Is(err, errLastAdmin):
		return u, http.StatusConflict, err.Error()
	case err != nil && c.role != "" && !c.role.valid():
		return u, http.StatusBadRequest, err.Error()
	case err != nil:
		s.log.Error("user change", "error", err)
		return u, http.StatusServiceUnavailable, "the user database is unavailable"
	}
	var action, detail string
	switch {
	case c.delete:
		action, detail = auditUserDelete, "role "+string(u.Role)+"; its API tokens deleted"
	case c.hash != nil:
		action, detail = auditUserPassword, "new password generated; the user's sessions end"
	case c.role != "":
		action, detail = auditUserRole, string(u.Role)+" → "+string(c.role)
	case *c.disabled:
		action, detail = auditUserDisable, s.suspendedTokens(r, id)
	default:
		action, detail = auditUserEnable, s.suspendedTokens(r, id)
	}
	s.auditReq(r, action, u.Name, detail)
	return u, http.StatusOK, action + ": " + u.Name
}

// suspendedTokens says what disabling or enabling did to the user's API
// tokens, for the audit log.
func (s *Server) suspendedTokens(r *http.Request, userID int64) string {
	n, err := s.store.tokenCount(r.Context(), userID)
	if err != nil || n == 0 {
		return ""
	}
	return strconv.Itoa(n) + " API tokens kept, refused while the user is disabled"
}

// userForm runs a userAction from a form of the Users page.
func (s *Server) userForm(c func(r *http.Request) userChange) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.pathID(w, r)
		if !ok {
			return
		}
		_, code, msg := s.userAction(r, id, c(r))
		if code != http.StatusOK {
			s.fail(w, r, code, msg)
			return
		}
		s.flash(r, msg)
		http.Redirect(w, r, "/users", http.StatusSeeOther)
	}
}

func disableChange(disabled bool) func(*http.Request) userChange {
	return func(*http.Request) userChange { return userChange{disabled: &disabled} }
}

func roleChange(r *http.Request) userChange { return userChange{role: Role(r.PostFormValue("role"))} }

func deleteChange(*http.Request) userChange { return userChange{delete: true} }

// resetPassword gives another user a new generated password.
func (s *Server) resetPassword(r *http.Request, id int64) (User, string, int, string) {
	pw, hash, err := resetHash()
	if err != nil {
		return User{}, "", http.StatusInternalServerError, err.Error()
	}
	u, code, msg := s.userAction(r, id, userChange{hash: hash})
	return u, pw, code, msg
}

func (s *Server) resetPasswordForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	u, pw, code, msg := s.resetPassword(r, id)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	s.renderUsers(w, r, http.StatusOK, pw, "New password of "+u.Name)
}

// addToken creates an API token named name for user id, audited, and
// returns its secret (shown once), or the status and message of a refusal.
func (s *Server) addToken(r *http.Request, id int64, name string) (User, Token, string, int, string) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || !plainText(name) {
		return User{}, Token{}, "", http.StatusBadRequest, "a token name is 1 to 64 characters of UTF-8 text"
	}
	u, err := s.store.userByID(r.Context(), id)
	if errors.Is(err, errNotFound) {
		return u, Token{}, "", http.StatusNotFound, "no such user"
	}
	if err != nil {
		return u, Token{}, "", http.StatusServiceUnavailable, "the user database is unavailable"
	}
	secret, t, err := s.store.addToken(r.Context(), id, name)
	if err != nil {
		s.log.Error("add token", "error", err)
		return u, t, "", http.StatusServiceUnavailable, "the user database is unavailable"
	}
	s.auditReq(r, auditTokenAdd, u.Name, name)
	return u, t, secret, http.StatusOK, ""
}

func (s *Server) addTokenForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	u, t, secret, code, msg := s.addToken(r, id, r.PostFormValue("name"))
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	s.renderUsers(w, r, http.StatusOK, secret, "API token "+t.Name+" of "+u.Name+" (role "+string(u.Role)+")")
}

// revokeToken deletes token id, audited, or gives the status and message
// of a refusal.
func (s *Server) revokeToken(r *http.Request, id int64) (Token, int, string) {
	t, err := s.store.revokeToken(r.Context(), id)
	if errors.Is(err, errNotFound) {
		return t, http.StatusNotFound, "no such token"
	}
	if err != nil {
		return t, http.StatusServiceUnavailable, "the user database is unavailable"
	}
	s.auditReq(r, auditTokenRevoke, strconv.FormatInt(t.UserID, 10), t.Name)
	return t, http.StatusOK, ""
}

func (s *Server) revokeTokenForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	t, code, msg := s.revokeToken(r, id)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	s.flash(r, "token "+t.Name+" revoked")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// apiTokens lists every user's API tokens, as the Users page does, without
// their secrets (only their hashes are kept).
func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.store.tokens(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	if toks == nil {
		toks = []Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

// newToken is the body of POST /api/v1/users/{id}/tokens; the answer
// adds the secret, shown this once.
type newToken struct {
	Name string `json:"name"`
}

func (s *Server) apiAddToken(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var body newToken
	if !decodeJSON(w, r, &body) {
		s.fail(w, r, http.StatusBadRequest, `want a JSON object {"name": "..."}`)
		return
	}
	_, t, secret, code, msg := s.addToken(r, id, body.Name)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Token
		Secret string `json:"token"`
	}{t, secret})
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	if _, code, msg := s.revokeToken(r, id); code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "revoked"})
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) {
	v, err := s.usersView(r)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	if v.Users == nil {
		v.Users = []User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": v.Users})
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	p := who(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role, "via_token": p.viaToken})
}

// decodeJSON reads a small JSON object body into v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil
}

// newUser is the body of POST /api/v1/users.
type newUser struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

func (s *Server) apiAddUser(w http.ResponseWriter, r *http.Request) {
	var body newUser
	if !decodeJSON(w, r, &body) {
		s.fail(w, r, http.StatusBadRequest, `want a JSON object {"name": "...", "role": "admin|operator|viewer"}`)
		return
	}
	password := NewPassword()
	id, err := AddUser(r.Context(), s.db, body.Name, body.Role, password)
	if errors.Is(err, errNameTaken) {
		s.fail(w, r, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "user not added: "+err.Error())
		return
	}
	s.auditReq(r, auditUserAdd, body.Name, "role "+string(body.Role))
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "name": strings.TrimSpace(body.Name), "role": body.Role, "password": password})
}

// userPatch is the body of PATCH /api/v1/users/{id}; absent fields stay.
type userPatch struct {
	Role     Role  `json:"role"`
	Disabled *bool `json:"disabled"`
}

func (s *Server) apiChangeUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var body userPatch
	if !decodeJSON(w, r, &body) || (body.Role == "" && body.Disabled == nil) {
		s.fail(w, r, http.StatusBadRequest, `want a JSON object {"role": "admin|operator|viewer"} and/or {"disabled": true|false}`)
		return
	}
	// One change at a time, so that each has its own audit entry.
	for _, c := range []userChange{{role: body.Role}, {disabled: body.Disabled}} {
		if c.role == "" && c.disabled == nil {
			continue
		}
		if _, code, msg := s.userAction(r, id, c); code != http.StatusOK {
			s.fail(w, r, code, msg)
			return
		}
	}
	u, err := s.store.userByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	if _, code, msg := s.userAction(r, id, userChange{delete: true}); code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "deleted"})
}

func (s *Server) apiResetPassword(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	u, pw, code, msg := s.resetPassword(r, id)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": u.Name, "password": pw})
}
