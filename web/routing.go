package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/routing"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// Audit actions of the routing tables; the detail holds the object before
// and after as JSON, passwords left out (the store never reads them back).
const (
	auditGatewayAdd    = "gateway add"
	auditGatewayChange = "gateway change"
	auditGatewayDelete = "gateway delete"
	auditRouteAdd      = "route add"
	auditRouteChange   = "route change"
	auditRouteDelete   = "route delete"
	auditRoutesImport  = "routes import"
)

func (s *Server) auditRouting(r *http.Request, action, target string, before, after any) {
	d := map[string]any{}
	if before != nil {
		d["before"] = before
	}
	if after != nil {
		d["after"] = after
	}
	b, _ := json.Marshal(d) // plain structs: cannot fail
	s.auditReq(r, action, target, string(b))
}

// routingFail answers a store error: 400 with one message per field for a
// validation error, 404, 409 for a gateway still in use, else 503.
func (s *Server) routingFail(w http.ResponseWriter, r *http.Request, err error) {
	var fe routing.FieldErrors
	var re routing.RowError
	switch {
	case errors.As(err, &re):
		s.fail(w, r, http.StatusBadRequest, re.Error())
	case errors.As(err, &fe):
		if isAPI(r) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fe.Error(), "fields": fe})
			return
		}
		s.fail(w, r, http.StatusBadRequest, fe.Error())
	case errors.Is(err, routing.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "no such gateway, gateway group or route")
	case errors.Is(err, routing.ErrInUse), errors.Is(err, routing.ErrInGroup), errors.Is(err, routing.ErrGroupInUse):
		s.fail(w, r, http.StatusConflict, err.Error())
	default:
		s.log.Error("routing tables", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the routing tables are unavailable")
	}
}

type routingView struct {
	Gateways []routing.Gateway
	Routes   []routing.Route
	// Interfaces are the SIP interfaces a route may be narrowed to,
	// Profiles the call profiles (its selected_profile).
	Interfaces []string
	Profiles   []string
	Health     []b2bua.GatewayHealth // of the probed gateways, file's and database's
	Load       []b2bua.GatewayLoad   // of the gateways with max_calls or max_cps
}

func (s *Server) routingPage(w http.ResponseWriter, r *http.Request) {
	var v routingView
	var err error
	if v.Gateways, err = s.routing.Gateways(r.Context()); err == nil {
		v.Routes, err = s.routing.Routes(r.Context())
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	v.Health, v.Load = s.sw.GatewayHealth(), s.sw.GatewayLoads()
	v.Interfaces, v.Profiles = s.interfaceNames(), s.sw.Config().ProfileNames()
	s.render(w, r, http.StatusOK, "routing", v)
}

// gatewayForm reads a gateway from the UI's form; a checkbox left unticked
// is absent from the form, hence false, and an empty limit is none.
func gatewayForm(r *http.Request) (routing.Gateway, error) {
	g := routing.Gateway{
		Name: r.PostFormValue("name"), Address: r.PostFormValue("address"), Transport: r.PostFormValue("transport"),
		UDPOnly: r.PostFormValue("udp_only") != "", AuthUser: r.PostFormValue("auth_user"),
		AuthPassword: r.PostFormValue("auth_password"), Enabled: r.PostFormValue("enabled") != "",
		Probe: r.PostFormValue("probe") != "", Media: r.PostFormValue("media"),
	}
	errs := routing.FieldErrors{}
	if v := strings.TrimSpace(r.PostFormValue("max_calls")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs["max_calls"] = strconv.Quote(v) + ": want a whole number of calls (empty or 0: no limit)"
		}
		g.MaxCalls = n
	}
	if v := strings.TrimSpace(r.PostFormValue("max_cps")); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs["max_cps"] = strconv.Quote(v) + ": want calls per second, e.g. 2.5 (empty or 0: no limit)"
		}
		g.MaxCPS = n
	}
	if len(errs) > 0 {
		return g, errs
	}
	return g, nil
}

// routeForm reads a route from the UI's form: gateways and hunt-stop codes
// as comma-separated lists, sources separated by commas or spaces, an
// empty priority 0.
func routeForm(r *http.Request) (routing.Route, error) {
	rt := routing.Route{Name: r.PostFormValue("name"), Prefix: r.PostFormValue("prefix"),
		CallerPrefix: r.PostFormValue("caller_prefix"), Interface: strings.TrimSpace(r.PostFormValue("interface")),
		SelectedProfile: strings.TrimSpace(r.PostFormValue("selected_profile")),
		Source:          strings.Fields(strings.ReplaceAll(r.PostFormValue("source"), ",", " ")),
		Gateways:        splitList(r.PostFormValue("gateways")), HuntStop: []int{}, Enabled: r.PostFormValue("enabled") != ""}
	errs := routing.FieldErrors{}
	if v := strings.TrimSpace(r.PostFormValue("priority")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs["priority"] = strconv.Quote(v) + ": want a whole number, higher wins (empty: 0)"
		}
		rt.Priority = n
	}
	for _, c := range splitList(r.PostFormValue("hunt_stop")) {
		n, err := strconv.Atoi(c)
		if err != nil {
			errs["hunt_stop"] = strconv.Quote(c) + ": want SIP codes separated by commas"
		}
		rt.HuntStop = append(rt.HuntStop, n)
	}
	var err error
	if rt.NoProgress, err = routing.ParseDuration(r.PostFormValue("no_progress")); err != nil {
		errs["no_progress"] = err.Error()
	}
	if rt.MaxRing, err = routing.ParseDuration(r.PostFormValue("max_ring")); err != nil {
		errs["max_ring"] = err.Error()
	}
	if len(errs) > 0 {
		return rt, errs
	}
	return rt, nil
}

// interfaceNames are the SIP interfaces of this Tollgate's configuration,
// which a route may be narrowed to.
func (s *Server) interfaceNames() []string { return s.sw.Config().SIP.InterfaceNames() }

// checkRouteCriteria refuses a route narrowed to an interface or a
// selected profile the running configuration lacks: the routing tables
// cannot know them, and such a route would never match.
func (s *Server) checkRouteCriteria(rt routing.Route) error {
	cfg := s.sw.Config()
	errs := routing.FieldErrors{}
	var fe routing.FieldErrors
	if err := rt.CheckInterface(cfg.SIP.InterfaceNames()); errors.As(err, &fe) {
		maps.Copy(errs, fe)
	}
	if err := rt.CheckSelectedProfile(cfg.ProfileNames()); errors.As(err, &fe) {
		maps.Copy(errs, fe)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) addGatewayForm(w http.ResponseWriter, r *http.Request) {
	g, err := gatewayForm(r)
	if err == nil {
		g, err = s.routing.CreateGateway(r.Context(), g)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGatewayAdd, g.Name, nil, g)
	s.flash(r, "Gateway "+g.Name+" added")
	http.Redirect(w, r, "/routing", http.StatusSeeOther)
}

func (s *Server) addRouteForm(w http.ResponseWriter, r *http.Request) {
	rt, err := routeForm(r)
	if err == nil {
		err = s.checkRouteCriteria(rt)
	}
	if err == nil {
		rt, err = s.routing.CreateRoute(r.Context(), rt)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditRouteAdd, rt.Name, nil, rt)
	s.flash(r, "Route "+rt.Name+" added")
	http.Redirect(w, r, "/routing", http.StatusSeeOther)
}

// routingEditView is the edit page of one gateway or one route.
type routingEditView struct {
	Gateway    *routing.Gateway
	Route      *routing.Route
	Interfaces []string
	Profiles   []string
}

func (s *Server) editGatewayPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := s.routing.Gateway(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "routing_edit", routingEditView{Gateway: &g})
}

func (s *Server) editRoutePage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	rt, err := s.routing.Route(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	// An interface gone from the configuration stays selected, so that
	// saving says it is unknown rather than silently widening the route.
	names := s.interfaceNames()
	if rt.Interface != "" && !slices.Contains(names, rt.Interface) {
		names = append(names, rt.Interface)
	}
	// So does a selected profile gone from the configuration.
	profiles := s.sw.Config().ProfileNames()
	if rt.SelectedProfile != "" && !slices.Contains(profiles, rt.SelectedProfile) {
		profiles = append(profiles, rt.SelectedProfile)
	}
	s.render(w, r, http.StatusOK, "routing_edit", routingEditView{Route: &rt, Interfaces: names, Profiles: profiles})
}

// editGatewayForm replaces a gateway with the edit page's form, as the
// API's PUT does, and audits it with before and after.
func (s *Server) editGatewayForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := gatewayForm(r)
	var before routing.Gateway
	if err == nil {
		g.ID = id
		before, g, err = s.routing.UpdateGateway(r.Context(), g)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGatewayChange, g.Name, before, g)
	s.flash(r, "Gateway "+g.Name+" saved")
	http.Redirect(w, r, "/routing", http.StatusSeeOther)
}

func (s *Server) editRouteForm(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	rt, err := routeForm(r)
	var before routing.Route
	if err == nil {
		err = s.checkRouteCriteria(rt)
	}
	if err == nil {
		rt.ID = id
		before, rt, err = s.routing.UpdateRoute(r.Context(), rt)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditRouteChange, rt.Name, before, rt)
	s.flash(r, "Route "+rt.Name+" saved")
	http.Redirect(w, r, "/routing", http.StatusSeeOther)
}

// gatewayEnableForm enables or disables a gateway: new calls hunt past a
// disabled gateway.
func (s *Server) gatewayEnableForm(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.pathID(w, r)
		if !ok {
			return
		}
		g, err := s.routing.Gateway(r.Context(), id)
		if err == nil {
			g.Enabled = enabled
			var before routing.Gateway
			before, g, err = s.routing.UpdateGateway(r.Context(), g)
			if err == nil {
				s.auditRouting(r, auditGatewayChange, g.Name, before, g)
			}
		}
		if err != nil {
			s.routingFail(w, r, err)
			return
		}
		http.Redirect(w, r, "/routing", http.StatusSeeOther)
	}
}

func (s *Server) routeEnableForm(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.pathID(w, r)
		if !ok {
			return
		}
		rt, err := s.routing.Route(r.Context(), id)
		if err == nil {
			rt.Enabled = enabled
			var before routing.Route
			before, rt, err = s.routing.UpdateRoute(r.Context(), rt)
			if err == nil {
				s.auditRouting(r, auditRouteChange, rt.Name, before, rt)
			}
		}
		if err != nil {
			s.routingFail(w, r, err)
			return
		}
		http.Redirect(w, r, "/routing", http.StatusSeeOther)
	}
}

func (s *Server) deleteGateway(w http.ResponseWriter, r *http.Request) (routing.Gateway, bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return routing.Gateway{}, false
	}
	g, err := s.routing.DeleteGateway(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return g, false
	}
	s.auditRouting(r, auditGatewayDelete, g.Name, g, nil)
	return g, true
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) (routing.Route, bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return routing.Route{}, false
	}
	rt, err := s.routing.DeleteRoute(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return rt, false
	}
	s.auditRouting(r, auditRouteDelete, rt.Name, rt, nil)
	return rt, true
}

func (s *Server) deleteGatewayForm(w http.ResponseWriter, r *http.Request) {
	if g, ok := s.deleteGateway(w, r); ok {
		s.flash(r, "Gateway "+g.Name+" deleted")
		http.Redirect(w, r, "/routing", http.StatusSeeOther)
	}
}

func (s *Server) deleteRouteForm(w http.ResponseWriter, r *http.Request) {
	if rt, ok := s.deleteRoute(w, r); ok {
		s.flash(r, "Route "+rt.Name+" deleted")
		http.Redirect(w, r, "/routing", http.StatusSeeOther)
	}
}

// The JSON API: PUT replaces the whole object, what the body leaves out
// taking the defaults a create gives (enabled, udp, the default hunt-stop
// codes), except a gateway's password, which an update without one keeps.

func (s *Server) apiGateways(w http.ResponseWriter, r *http.Request) {
	gs, err := s.routing.Gateways(r.Context())
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	if gs == nil {
		gs = []routing.Gateway{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateways": gs})
}

// apiGatewayHealth lists what the OPTIONS probes found, per probed
// gateway of the routes in force (the file's and the database's).
func (s *Server) apiGatewayHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"gateways": s.sw.GatewayHealth()})
}

// apiGatewayLoad lists the gateways with max_calls or max_cps that calls
// went to since start: calls up on each, its limits, and the attempts the
// hunt skipped for them.
func (s *Server) apiGatewayLoad(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"gateways": s.sw.GatewayLoads()})
}

func (s *Server) apiGateway(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g, err := s.routing.Gateway(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

const gatewayBodyHelp = `want a JSON gateway object: {"name", "address", "transport", "udp_only", "auth_user", "auth_password", "probe", "max_calls", "max_cps", "media", "enabled"}`

func (s *Server) apiAddGateway(w http.ResponseWriter, r *http.Request) {
	g := routing.NewGateway()
	if !decodeJSON(w, r, &g) {
		s.fail(w, r, http.StatusBadRequest, gatewayBodyHelp)
		return
	}
	g, err := s.routing.CreateGateway(r.Context(), g)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGatewayAdd, g.Name, nil, g)
	writeJSON(w, http.StatusCreated, g)
}

func (s *Server) apiPutGateway(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	g := routing.NewGateway()
	if !decodeJSON(w, r, &g) {
		s.fail(w, r, http.StatusBadRequest, gatewayBodyHelp)
		return
	}
	g.ID = id
	before, after, err := s.routing.UpdateGateway(r.Context(), g)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditGatewayChange, after.Name, before, after)
	writeJSON(w, http.StatusOK, after)
}

func (s *Server) apiDeleteGateway(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.deleteGateway(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]string{"result": "deleted"})
	}
}

func (s *Server) apiRoutes(w http.ResponseWriter, r *http.Request) {
	rs, err := s.routing.Routes(r.Context())
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	if rs == nil {
		rs = []routing.Route{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": rs})
}

func (s *Server) apiRoute(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	rt, err := s.routing.Route(r.Context(), id)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

const routeBodyHelp = `want a JSON route object: {"name", "prefix", "caller_prefix", "source": ["192.0.2.0/24", ...], "interface", "priority", "gateways": ["name", "group:NAME", ...], "hunt_stop": [486, ...], "no_progress": "5s", "max_ring": "2m", "enabled"}`

func (s *Server) apiAddRoute(w http.ResponseWriter, r *http.Request) {
	rt := routing.NewRoute()
	if !decodeJSON(w, r, &rt) {
		s.fail(w, r, http.StatusBadRequest, routeBodyHelp)
		return
	}
	err := s.checkRouteCriteria(rt)
	if err == nil {
		rt, err = s.routing.CreateRoute(r.Context(), rt)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditRouteAdd, rt.Name, nil, rt)
	writeJSON(w, http.StatusCreated, rt)
}

func (s *Server) apiPutRoute(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	rt := routing.NewRoute()
	if !decodeJSON(w, r, &rt) {
		s.fail(w, r, http.StatusBadRequest, routeBodyHelp)
		return
	}
	rt.ID = id
	var before, after routing.Route
	err := s.checkRouteCriteria(rt)
	if err == nil {
		before, after, err = s.routing.UpdateRoute(r.Context(), rt)
	}
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.auditRouting(r, auditRouteChange, after.Name, before, after)
	writeJSON(w, http.StatusOK, after)
}

func (s *Server) apiDeleteRoute(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.deleteRoute(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]string{"result": "deleted"})
	}
}

// routesCSV downloads every route as CSV, in the form importRoutes reads.
func (s *Server) routesCSV(w http.ResponseWriter, r *http.Request) {
	rs, err := s.routing.Routes(r.Context())
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="routes.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := routing.WriteCSV(w, rs); err != nil {
		s.log.Warn("routes CSV", "error", err)
	}
}

// importRoutes creates or replaces, by name, the routes of a CSV file, all
// or none; it answers how many of each.
func (s *Server) importRoutes(r *http.Request, body io.Reader) (created, updated int, err error) {
	routes, err := routing.ReadCSV(body)
	if err != nil {
		return 0, 0, err
	}
	for i, rt := range routes {
		if err := s.checkRouteCriteria(rt); err != nil {
			return 0, 0, routing.RowError{Line: i + 2, Err: err}
		}
	}
	if created, updated, err = s.routing.ImportRoutes(r.Context(), routes); err != nil {
		return 0, 0, err
	}
	names := make([]string, len(routes))
	for i, rt := range routes {
		names[i] = rt.Name
	}
	s.auditReq(r, auditRoutesImport, strings.Join(names, ", "), fmt.Sprintf("%d created, %d replaced", created, updated))
	return created, updated, nil
}

func (s *Server) apiImportRoutes(w http.ResponseWriter, r *http.Request) {
	created, updated, err := s.importRoutes(r, r.Body)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"created": created, "replaced": updated})
}

func (s *Server) importRoutesForm(w http.ResponseWriter, r *http.Request) {
	f, _, err := r.FormFile("file")
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "choose a CSV file to import")
		return
	}
	defer f.Close()
	created, updated, err := s.importRoutes(r, f)
	if err != nil {
		s.routingFail(w, r, err)
		return
	}
	s.flash(r, fmt.Sprintf("Routes imported: %d created, %d replaced", created, updated))
	http.Redirect(w, r, "/routing", http.StatusSeeOther)
}
