package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/switch/b2bua"
)

// apiRegistrations lists the bindings the switch holds (AoR, contact,
// flow, expiry, user agent).
func (s *Server) apiRegistrations(w http.ResponseWriter, r *http.Request) {
	regs := s.sw.Registrations()
	writeJSON(w, http.StatusOK, map[string]any{"registrations": regs, "count": len(regs)})
}

// apiUnregister removes one binding, audited: an operator's way to push a
// client off a flow (it may register again).
func (s *Server) apiUnregister(w http.ResponseWriter, r *http.Request) {
	code, msg := s.unregister(r)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": msg})
}

// unregister removes the binding the request names and audits it; it
// returns the HTTP status and what to tell the user.
func (s *Server) unregister(r *http.Request) (int, string) {
	id := chi.URLParam(r, "id")
	if len(id) > 64 {
		return http.StatusBadRequest, "bad registration id"
	}
	var desc string
	for _, reg := range s.sw.Registrations() {
		if reg.ID == id {
			desc = reg.AoR + " " + reg.Contact
		}
	}
	if err := s.sw.Unregister(id); err != nil {
		if errors.Is(err, b2bua.ErrNoSuchRegistration) {
			return http.StatusNotFound, "no such registration (it may have expired)"
		}
		return http.StatusInternalServerError, "the registration could not be removed"
	}
	s.auditReq(r, auditUnregister, id, desc)
	return http.StatusOK, "registration " + id + " removed"
}

// registrationView is one binding on the Registrations page.
type registrationView struct {
	b2bua.RegistrationInfo
	ExpiresIn string // what is left of the client's lifetime
}

type registrationsView struct {
	Q             string
	Registrations []registrationView
	Mode          string // registration.mode: off, cache or local
	CanRemove     bool
}

// registrationsPage lists the bindings, keeping those whose AoR, contact,
// source or user agent contains q.
func (s *Server) registrationsPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	lq := strings.ToLower(q)
	now := time.Now()
	var out []registrationView
	for _, reg := range s.sw.Registrations() {
		if lq != "" && !strings.Contains(strings.ToLower(reg.AoR+" "+reg.Contact+" "+reg.Source+" "+reg.UserAgent), lq) {
			continue
		}
		out = append(out, registrationView{RegistrationInfo: reg, ExpiresIn: durText(max(reg.Expires.Sub(now), 0))})
	}
	s.render(w, r, http.StatusOK, "registrations", registrationsView{Q: q, Registrations: out,
		Mode: s.sw.Config().Registration.Mode, CanRemove: who(r.Context()).Role.atLeast(roleOperator)})
}

func (s *Server) unregisterForm(w http.ResponseWriter, r *http.Request) {
	code, msg := s.unregister(r)
	if code != http.StatusOK && code != http.StatusNotFound {
		s.fail(w, r, code, msg)
		return
	}
	s.flash(r, msg)
	http.Redirect(w, r, "/registrations", http.StatusSeeOther)
}
