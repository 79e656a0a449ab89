package web

import (
	"errors"
	"net/http"

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
	id := chi.URLParam(r, "id")
	if len(id) > 64 {
		s.fail(w, r, http.StatusBadRequest, "bad registration id")
		return
	}
	var desc string
	for _, reg := range s.sw.Registrations() {
		if reg.ID == id {
			desc = reg.AoR + " " + reg.Contact
		}
	}
	if err := s.sw.Unregister(id); err != nil {
		if errors.Is(err, b2bua.ErrNoSuchRegistration) {
			s.fail(w, r, http.StatusNotFound, "no such registration (it may have expired)")
			return
		}
		s.fail(w, r, http.StatusInternalServerError, "the registration could not be removed")
		return
	}
	s.auditReq(r, auditUnregister, id, desc)
	writeJSON(w, http.StatusOK, map[string]string{"result": "registration " + id + " removed"})
}
