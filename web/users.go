package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

type usersView struct {
	Users  []User
	Tokens map[int64][]Token
	// Secret is a password or token just created, shown once.
	Secret, SecretWhat string
}

func (s *Server) usersView(r *http.Request) (usersView, error) {
	v := usersView{Tokens: map[int64][]Token{}}
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

func (s *Server) setDisabledForm(w http.ResponseWriter, r *http.Request, disabled bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	if disabled && id == who(r.Context()).ID {
		s.fail(w, r, http.StatusBadRequest, "you cannot disable yourself")
		return
	}
	u, err := s.store.setDisabled(r.Context(), id, disabled)
	if errors.Is(err, errNotFound) {
		s.fail(w, r, http.StatusNotFound, "no such user")
		return
	}
	if err != nil {
		s.log.Error("disable user", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	action := auditUserEnable
	if disabled {
		action = auditUserDisable
	}
	s.auditReq(r, action, u.Name, "")
	s.flash(r, action+": "+u.Name)
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

func (s *Server) disableUserForm(w http.ResponseWriter, r *http.Request) {
	s.setDisabledForm(w, r, true)
}
func (s *Server) enableUserForm(w http.ResponseWriter, r *http.Request) {
	s.setDisabledForm(w, r, false)
}

func (s *Server) addTokenForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 64 || !plainText(name) {
		s.fail(w, r, http.StatusBadRequest, "a token name is 1 to 64 characters of UTF-8 text")
		return
	}
	u, err := s.store.userByID(r.Context(), id)
	if errors.Is(err, errNotFound) {
		s.fail(w, r, http.StatusNotFound, "no such user")
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	secret, _, err := s.store.addToken(r.Context(), id, name)
	if err != nil {
		s.log.Error("add token", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	s.auditReq(r, auditTokenAdd, u.Name, name)
	s.renderUsers(w, r, http.StatusOK, secret, "API token "+name+" of "+u.Name+" (role "+string(u.Role)+")")
}

func (s *Server) revokeTokenForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	t, err := s.store.revokeToken(r.Context(), id)
	if errors.Is(err, errNotFound) {
		s.fail(w, r, http.StatusNotFound, "no such token")
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the user database is unavailable")
		return
	}
	s.auditReq(r, auditTokenRevoke, strconv.FormatInt(t.UserID, 10), t.Name)
	s.flash(r, "token "+t.Name+" revoked")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
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
