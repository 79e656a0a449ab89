package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/cluster"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// callView is one active call as the UI and the API show it.
type callView struct {
	ID          string    `json:"id"`
	Node        string    `json:"node,omitempty"` // the cluster node holding it; "" on a single server
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

// nodeView is one cluster node's health and load as the UI and the API
// show it.
type nodeView struct {
	Name           string  `json:"node"`
	Admission      string  `json:"admission"` // admitting, draining, shutting down; "" when it did not answer
	Calls          int     `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	Error          string  `json:"error,omitempty"`
}

func nodeViews(nodes []cluster.Node) []nodeView {
	out := make([]nodeView, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, nodeView{Name: n.Name, Admission: n.Admission, Calls: n.Calls,
			CallsPerSecond: n.CallsPerSecond, Error: n.Error})
	}
	return out
}

// clusterCallLimit is how many calls each node lists at most for one
// page: the newest, enough for an operator looking for one, and a bound on
// what a node with 100,000 calls up sends for each refresh.
const clusterCallLimit = 500

// callList is the calls up, on this node or, in a cluster, on every node.
type callList struct {
	Calls []callView
	Nodes []nodeView // nil on a single server
	// Warning says the other nodes could not be asked (Redis away): the
	// list is this node's alone.
	Warning string
}

// activeCalls lists the calls up, newest first, keeping those any of
// whose caller, called number, account, source, route, gateway, media
// relay, codec or ID contains q: this node's, or every node's in a
// cluster.
func (s *Server) activeCalls(ctx context.Context, q string) callList {
	q = strings.ToLower(strings.TrimSpace(q))
	if s.opt.Cluster != nil {
		nodes, err := s.opt.Cluster.List(ctx, q, clusterCallLimit)
		if err == nil {
			l := callList{Nodes: nodeViews(nodes)}
			for _, n := range nodes {
				l.Calls = append(l.Calls, callViews(n.Name, n.Listed)...)
			}
			slices.SortFunc(l.Calls, func(a, b callView) int { return b.Setup.Compare(a.Setup) })
			return l
		}
		s.log.Warn("cluster view unavailable; showing this node's calls", "error", err)
		return callList{Calls: s.localCalls(q, s.opt.Cluster.Node()),
			Warning: "The other nodes could not be asked (" + err.Error() + "): these are this node's calls only."}
	}
	return callList{Calls: s.localCalls(q, "")}
}

func (s *Server) localCalls(q, node string) []callView {
	var mine []b2bua.CallInfo
	for _, c := range s.sw.Snapshot() {
		if q == "" || cluster.Matches(c, q) {
			mine = append(mine, c)
		}
	}
	out := callViews(node, mine)
	slices.SortFunc(out, func(a, b callView) int { return b.Setup.Compare(a.Setup) })
	return out
}

func callViews(node string, calls []b2bua.CallInfo) []callView {
	now := time.Now()
	out := make([]callView, 0, len(calls))
	for _, c := range calls {
		v := callView{ID: c.ID, Node: node, Caller: c.Caller, Called: c.Called, Source: c.Source, Route: c.Route,
			Gateway: c.Gateway, Account: c.Account, MediaRelay: c.MediaRelay, Codec: c.Codec, State: c.State, Attempts: c.Attempts, Setup: c.Setup, Connect: c.Connect,
			Age: durText(now.Sub(c.Setup)), Duration: "—"}
		if !c.Connect.IsZero() {
			d := now.Sub(c.Connect)
			v.DurationSec = int64(d.Seconds())
			v.Duration = durText(d)
		}
		out = append(out, v)
	}
	return out
}

type callsView struct {
	Q       string
	List    callList
	Cluster bool
	CanKill bool
}

func (s *Server) callsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	s.render(w, r, http.StatusOK, "calls", callsView{Q: q, List: s.activeCalls(r.Context(), q), Cluster: s.opt.Cluster != nil,
		CanKill: who(r.Context()).Role.atLeast(roleOperator)})
}

func (s *Server) apiCalls(w http.ResponseWriter, r *http.Request) {
	l := s.activeCalls(r.Context(), r.URL.Query().Get("q"))
	if l.Calls == nil {
		l.Calls = []callView{}
	}
	body := map[string]any{"calls": l.Calls, "count": len(l.Calls)}
	if l.Nodes != nil {
		body["nodes"] = l.Nodes
	}
	if l.Warning != "" {
		body["warning"] = l.Warning
	}
	writeJSON(w, http.StatusOK, body)
}

// kill hangs a call up, on this node or, named by node, on another node of
// the cluster, and audits it; it returns the HTTP status.
func (s *Server) kill(r *http.Request, node string) (int, string) {
	id := chi.URLParam(r, "id")
	if !validCallID(id) {
		return http.StatusBadRequest, "bad call id"
	}
	if node != "" && (s.opt.Cluster == nil || node != s.opt.Cluster.Node()) {
		return s.killElsewhere(r, node, id)
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

// killElsewhere asks node to hang up its call id; the kill is audited
// here, where the operator asked, naming the node.
func (s *Server) killElsewhere(r *http.Request, node, id string) (int, string) {
	if s.opt.Cluster == nil {
		return http.StatusBadRequest, "node: this server is not in a cluster"
	}
	if !validNodeName(node) {
		return http.StatusBadRequest, "bad node name"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	switch err := s.opt.Cluster.Kill(ctx, node, id); {
	case errors.Is(err, b2bua.ErrNoSuchCall):
		return http.StatusNotFound, "no such call on " + node + " (it may have ended)"
	case errors.Is(err, cluster.ErrNoNode):
		return http.StatusNotFound, "node " + node + " does not answer"
	case err != nil:
		s.log.Error("kill call on another node", "node", node, "id", id, "error", err)
		return http.StatusBadGateway, "the call could not be killed on " + node
	}
	s.auditReq(r, auditCallKill, id, "on node "+node)
	return http.StatusOK, "call " + id + " killed on " + node
}

// validNodeName accepts what config allows for cluster.node, so junk never
// reaches Redis or the audit log.
func validNodeName(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.", c)) {
			return false
		}
	}
	return true
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
	code, msg := s.kill(r, r.FormValue("node"))
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

// callDetail finds a call up on this Tollgate for its detail page or API.
func (s *Server) callDetail(w http.ResponseWriter, r *http.Request) (b2bua.CallDetail, bool) {
	id := chi.URLParam(r, "id")
	if !validCallID(id) {
		s.fail(w, r, http.StatusBadRequest, "bad call id")
		return b2bua.CallDetail{}, false
	}
	d, ok := s.sw.CallDetail(id)
	if !ok {
		s.fail(w, r, http.StatusNotFound, "no such call up on this Tollgate (it may have ended, or be on another node)")
	}
	return d, ok
}

// callPage is a call's live detail: legs and their states, timers, media,
// attempts and the profile that applied; it reloads itself while the call
// is up.
func (s *Server) callPage(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.callDetail(w, r); ok {
		s.render(w, r, http.StatusOK, "call", d)
	}
}

func (s *Server) apiCall(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.callDetail(w, r); ok {
		writeJSON(w, http.StatusOK, callDetailJSON(d))
	}
}

// callDetailJSON is a call's detail in the API's names, durations in
// seconds.
func callDetailJSON(d b2bua.CallDetail) map[string]any {
	legs := make([]map[string]any, 0, len(d.Legs))
	for _, l := range d.Legs {
		legs = append(legs, map[string]any{"name": l.Name, "state": l.State, "call_id": l.CallID, "peer": l.Peer,
			"session_interval_seconds": l.SessionInterval.Seconds(), "keepalive_seconds": l.Keepalive.Seconds()})
	}
	attempts := d.Attempts
	if attempts == nil {
		attempts = []cdr.Attempt{}
	}
	return map[string]any{"id": d.ID, "phase": d.Phase, "state": d.State, "caller": d.Caller, "called": d.Called,
		"source": d.Source, "account": d.Account, "route": d.Route, "gateway": d.Gateway, "profile": d.Profile,
		"media_relay": d.MediaRelay, "codec": d.Codec, "setup_time": d.Setup, "connect_time": nullTime(d.Connect),
		"max_duration_seconds": d.MaxDuration.Seconds(), "credit_seconds": d.Credit.Seconds(),
		"legs": legs, "attempts": attempts}
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (s *Server) apiKillCall(w http.ResponseWriter, r *http.Request) {
	code, msg := s.kill(r, r.URL.Query().Get("node"))
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": msg})
}
