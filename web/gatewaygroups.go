package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/routing"
)

// Audit actions of the gateway groups; the detail holds the group before
// and after as JSON, as for gateways and routes.
const (
	auditGroupAdd    = "gateway group add"
	auditGroupChange = "gateway group change"
	auditGroupDelete = "gateway group delete"
)

// spareMemberRows are the empty member rows a group's form offers beyond
// its members, so that members are added without JavaScript.
const spareMemberRows = 3

// groupsView is the Gateway groups page and a group's edit page: the
// groups (or the one edited) and the gateways a member may name.
type groupsView struct {
	Groups   []routing.Group
	Group    *routing.Group
	Gateways []routing.Gateway
	// Rows are the member rows of the form: the group's members, then
	// empty ones.
	Rows       []routing.GroupMember
	MaxWeight  int
	GroupRefer string // how a route names a group: the prefix of its name
}

func (s *Server) groupsView(r *http.Request, g *routing.Group) (groupsView, error) {
	v := groupsView{Group: g, MaxWeight: config.MaxGroupWeight, GroupRefer: config.GroupPrefix}
	var err error
	if v.Gateways, err = s.routing.Gateways(r.Context()); err != nil {
		return v, err
	}
	if g == nil {
		v.Groups, err = s.routing.Groups(r.Context())
	} else {
		v.Rows = append(v.Rows, g.Members...)
	}
	for range spareMemberRows {
		v.Rows = append(v.Rows, routing.GroupMember{Weight: config.DefaultGroupWeight})
	}
	return v, err
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.groupsView(r, nil)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "gateway_groups", v)
}

func (s *Server) editGroupPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := s.routing.Group(r.Context(), id)
	var v groupsView
	if err == nil {
		v, err = s.groupsView(r, &g)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "gateway_groups", v)
}

// groupForm reads a group from the form: parallel member_gateway,
// member_weight and member_priority fields, one set per row; a row without
// a gateway is left out, and an empty weight is the default.
func groupForm(r *http.Request) (routing.Group, error) {
	if err := r.ParseForm(); err != nil {
		return routing.Group{}, routing.FieldErrors{"members": "unreadable form"}
	}
	g := routing.Group{Name: r.PostFormValue("name")}
	gws, weights, prios := r.PostForm["member_gateway"], r.PostForm["member_weight"], r.PostForm["member_priority"]
	errs := routing.FieldErrors{}
	for i, name := range gws {
		if strings.TrimSpace(name) == "" {
			continue
		}
		m := routing.GroupMember{Gateway: name, Weight: config.DefaultGroupWeight}
		if i < len(weights) && strings.TrimSpace(weights[i]) != "" {
			n, err := strconv.Atoi(strings.TrimSpace(weights[i]))
			if err != nil {
				errs["members"] = fmt.Sprintf("%s: weight %q: want a whole number 0 to %d", name, weights[i], config.MaxGroupWeight)
			}
			m.Weight = n
		}
		if i < len(prios) && strings.TrimSpace(prios[i]) != "" {
			n, err := strconv.Atoi(strings.TrimSpace(prios[i]))
			if err != nil {
				errs["members"] = fmt.Sprintf("%s: priority %q: want a whole number 0 to %d", name, prios[i], config.MaxGroupPriority)
			}
			m.Priority = n
		}
		g.Members = append(g.Members, m)
	}
	if len(errs) > 0 {
		return g, errs
	}
	return g, nil
}

func (s *Server) addGroupForm(w http.ResponseWriter, r *http.Request) {
	g, err := groupForm(r)
	if err == nil {
		g, err = s.routing.CreateGroup(r.Context(), g)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGroupAdd, g.Name, nil, g)
	s.flash(r, "Gateway group "+g.Name+" added")
	http.Redirect(w, r, "/gateway-groups", http.StatusSeeOther)
}

func (s *Server) editGroupForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := groupForm(r)
	var before routing.Group
	if err == nil {
		g.ID = id
		before, g, err = s.routing.UpdateGroup(r.Context(), g)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGroupChange, g.Name, before, g)
	s.flash(r, "Gateway group "+g.Name+" saved")
	http.Redirect(w, r, "/gateway-groups", http.StatusSeeOther)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) (routing.Group, bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return routing.Group{}, false
	}
	g, err := s.routing.DeleteGroup(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return g, false
	}
	s.auditRouting(r, auditGroupDelete, g.Name, g, nil)
	return g, true
}

func (s *Server) deleteGroupForm(w http.ResponseWriter, r *http.Request) {
	if g, ok := s.deleteGroup(w, r); ok {
		s.flash(r, "Gateway group "+g.Name+" deleted")
		http.Redirect(w, r, "/gateway-groups", http.StatusSeeOther)
	}
}

// The JSON API, as for gateways and routes: PUT replaces the whole group.

func (s *Server) apiGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.routing.Groups(r.Context())
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	if gs == nil {
		gs = []routing.Group{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateway_groups": gs})
}

func (s *Server) apiGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := s.routing.Group(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

const groupBodyHelp = `want a JSON gateway group object: {"name", "members": [{"gateway": "name", "weight": 1, "priority": 0}, ...]}`

func (s *Server) apiAddGroup(w http.ResponseWriter, r *http.Request) {
	var g routing.Group
	if !decodeJSON(w, r, &g) {
		s.fail(w, r, http.StatusBadRequest, groupBodyHelp)
		return
	}
	g, err := s.routing.CreateGroup(r.Context(), g)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGroupAdd, g.Name, nil, g)
	writeJSON(w, http.StatusCreated, g)
}

func (s *Server) apiPutGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	var g routing.Group
	if !decodeJSON(w, r, &g) {
		s.fail(w, r, http.StatusBadRequest, groupBodyHelp)
		return
	}
	g.ID = id
	before, after, err := s.routing.UpdateGroup(r.Context(), g)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGroupChange, after.Name, before, after)
	writeJSON(w, http.StatusOK, after)
}

func (s *Server) apiDeleteGroup(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.deleteGroup(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]string{"result": "deleted"})
	}
}
