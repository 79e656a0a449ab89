package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/subscriber"
)

// The local registrar's accounts in the database (subscriber.Store). The
// switch reads them within a second of a change. Only their digest HA1 is
// kept: the password given (or generated) is answered once and never
// again.

func (s *Server) apiSubscribers(w http.ResponseWriter, r *http.Request) {
	subs, err := s.subscribers.List(r.Context())
	if err != nil {
		s.log.Error("subscribers", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the database did not answer")
		return
	}
	if subs == nil {
		subs = []subscriber.Subscriber{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscribers": subs, "count": len(subs)})
}

// subscriberBodyHelp is the answer to a body that is not one.
const subscriberBodyHelp = `want {"user": "NAME", "password": "SECRET"}; without a password one is generated and answered once`

func (s *Server) apiAddSubscriber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if !decodeJSON(w, r, &body) {
		s.fail(w, r, http.StatusBadRequest, subscriberBodyHelp)
		return
	}
	generated := body.Password == ""
	if generated {
		body.Password = NewPassword()
	}
	sub, err := s.subscribers.Add(r.Context(), body.User, s.sw.Config().Registration.Realm, body.Password)
	switch {
	case errors.Is(err, subscriber.ErrBadUser):
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, subscriber.ErrExists):
		s.fail(w, r, http.StatusConflict, err.Error())
		return
	case err != nil:
		s.log.Error("subscriber add", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the database did not answer")
		return
	}
	s.auditReq(r, auditSubscriberAdd, sub.User, "realm "+sub.Realm)
	out := map[string]any{"subscriber": sub}
	if generated {
		out["password"] = body.Password
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiDeleteSubscriber(w http.ResponseWriter, r *http.Request) {
	user := chi.URLParam(r, "user")
	err := s.subscribers.Delete(r.Context(), user)
	switch {
	case errors.Is(err, subscriber.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, err.Error())
		return
	case err != nil:
		s.log.Error("subscriber delete", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the database did not answer")
		return
	}
	s.auditReq(r, auditSubscriberDelete, user, "")
	writeJSON(w, http.StatusOK, map[string]string{"result": "subscriber " + user + " deleted"})
}
