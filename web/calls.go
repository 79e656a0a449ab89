package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/switch/b2bua"
)

// callView is one active call as the UI and the API show it.
type callView struct {
	ID          string    `json:"id"`
	Caller      string    `json:"caller"`
	Called      string    `json:"called"`
	Source      string    `json:"source"`
	Route       string    `json:"route"`
	Gateway     string    `json:"gateway"`
	Account     string    `json:"account"`     // RADIUS User-Name; "" without RADIUS authorisation
	MediaRelay  string    `json:"media_relay"` // "" when the media is not anchored
	Codec       string    `json:"codec"`       // known only when the media is anchored
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	Setup       time.Time `json:"setup_time"`
	Connect     time.Time `json:"connect_time"`
	DurationSec int64     `json:"duration_seconds"` // since connect; 0 before
	Duration    string    `json:"-"`
	Age         string    `json:"-"`
}

// activeCalls lists the calls up, newest first, keeping those any of
// whose caller, called number, account, source, route, gateway, media
// relay, codec or ID contains q.
func (s *Server) activeCalls(q string) []callView {
	now := time.Now()
	q = strings.ToLower(strings.TrimSpace(q))
	var out []callView
	for _, c := range s.sw.Snapshot() {
		if q != "" && !matches(c, q) {
			continue
		}
		v := callView{ID: c.ID, Caller: c.Caller, Called: c.Called, Source: c.Source, Route: c.Route,
			Gateway: c.Gateway, Account: c.Account, MediaRelay: c.MediaRelay, Codec: c.Codec, State: c.State, Attempts: c.Attempts, Setup: c.Setup, Connect: c.Connect,
			Age: durText(now.Sub(c.Setup)), Duration: "—"}
		if !c.Connect.IsZero() {
			d := now.Sub(c.Connect)
			v.DurationSec = int64(d.Seconds())
			v.Duration = durText(d)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b callView) int { return b.Setup.Compare(a.Setup) })
	return out
}

func matches(c b2bua.CallInfo, q string) bool {
	for _, f := range []string{c.ID, c.Caller, c.Called, c.Account, c.Source, c.Route, c.Gateway, c.MediaRelay, c.Codec} {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

type callsView struct {
	Q       string
	Calls   []callView
	CanKill bool
}

func (s *Server) callsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	s.render(w, r, http.StatusOK, "calls", callsView{Q: q, Calls: s.activeCalls(q), CanKill: who(r.Context()).Role.atLeast(roleOperator)})
}

func (s *Server) apiCalls(w http.ResponseWriter, r *http.Request) {
	calls := s.activeCalls(r.URL.Query().Get("q"))
	if calls == nil {
		calls = []callView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": calls, "count": len(calls)})
}

// kill hangs a call up and audits it; it returns the HTTP status.
func (s *Server) kill(r *http.Request) (int, string) {
	id := chi.URLParam(r, "id")
	if !validCallID(id) {
		return http.StatusBadRequest, "bad call id"
	}
	var desc string
	for _, c := range s.sw.Snapshot() {
		if c.ID == id {
			desc = c.Caller + " → " + c.Called
		}
	}
	if err := s.sw.Hangup(id); err != nil {
		if errors.Is(err, b2bua.ErrNoSuchCall) {
			return http.StatusNotFound, "no such call (it may have ended)"
		}
		s.log.Error("kill call", "id", id, "error", err)
		return http.StatusInternalServerError, "the call could not be killed"
	}
	s.auditReq(r, auditCallKill, id, desc)
	return http.StatusOK, "call " + id + " killed"
}

// validCallID accepts what the switch's IDs look like (UUIDs), so junk
// never reaches the call table or the audit log.
func validCallID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func (s *Server) killCallForm(w http.ResponseWriter, r *http.Request) {
	code, msg := s.kill(r)
	if code != http.StatusOK && code != http.StatusNotFound {
		s.fail(w, r, code, msg)
		return
	}
	s.flash(r, msg)
	http.Redirect(w, r, "/calls", http.StatusSeeOther)
}

// apiCallDTMF is one call's DTMF digits as its relay detected them. It is
// a call of its own, not a field of the call list, because the relay is
// asked each time: one query for one call, never one per call listed.
func (s *Server) apiCallDTMF(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if !validCallID(id) {
		s.fail(w, r, http.StatusBadRequest, "bad call id")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	d, err := s.sw.CallDTMF(ctx, id)
	switch {
	case errors.Is(err, b2bua.ErrNoSuchCall):
		s.fail(w, r, http.StatusNotFound, "no such call (it may have ended)")
		return
	case err != nil:
		s.log.Warn("call DTMF not read from its relay", "id", id, "error", err)
		s.fail(w, r, http.StatusBadGateway, "the media relay did not answer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"from_caller": d.FromCaller, "from_callee": d.FromCallee})
}

func (s *Server) apiKillCall(w http.ResponseWriter, r *http.Request) {
	code, msg := s.kill(r)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": msg})
}
