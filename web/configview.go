package web

import (
	"net/http"
	"time"

	"github.com/tollgate/tollgate/config"
)

// configView is the running configuration as the UI shows it: routes and
// gateways, RADIUS servers and relays with their live state. Secrets
// (RADIUS shared secrets, the database connection string) are never shown.
type configView struct {
	File    string        `json:"file"`
	Listen  []string      `json:"sip_listen"`
	MaxCall int           `json:"max_calls"`
	Routes  []routeView   `json:"routes"`
	Media   string        `json:"media_mode"`
	Radius  radiusView    `json:"radius"`
	Health  health        `json:"health"`
	Timers  config.Timers `json:"timers"`
}

type routeView struct {
	Name         string   `json:"name"`
	Prefix       string   `json:"prefix"`
	CallerPrefix string   `json:"caller_prefix"`
	Source       []string `json:"source"`
	Interface    string   `json:"interface"`
	// SelectedProfile: the profile the selectors must have chosen.
	SelectedProfile string           `json:"selected_profile"`
	Priority        int              `json:"priority"`
	Gateways        []config.Gateway `json:"gateways"`
	HuntStop        []int            `json:"hunt_stop"`
	Media           string           `json:"media"`
	Auth            string           `json:"auth"`
	MaxRing         time.Duration    `json:"max_ring"`
	CreditTime      time.Duration    `json:"credit_time"`
}

type radiusView struct {
	Auth        string   `json:"auth"`
	AuthServers []string `json:"auth_servers"`
	AcctServers []string `json:"acct_servers"`
}

func (s *Server) configView(r *http.Request) configView {
	c := s.sw.Config()
	v := configView{File: c.Path(), Listen: c.SIP.Listen, MaxCall: c.Limits.MaxCalls, Media: c.Media.Mode,
		Timers: c.Timers, Health: s.health(r.Context()), Routes: []routeView{},
		Radius: radiusView{Auth: c.Radius.Auth, AuthServers: []string{}, AcctServers: []string{}}}
	for _, rt := range c.Routes {
		v.Routes = append(v.Routes, routeView{Name: rt.Name, Prefix: rt.Prefix, CallerPrefix: rt.CallerPrefix,
			Source: append([]string{}, rt.Source...), Interface: rt.Interface, SelectedProfile: rt.SelectedProfile, Priority: rt.Priority, Gateways: rt.Gateways,
			HuntStop: rt.HuntStop, Media: rt.Media, Auth: rt.Auth, MaxRing: rt.MaxRing, CreditTime: rt.CreditTime})
	}
	for _, sv := range c.Radius.AuthServers {
		v.Radius.AuthServers = append(v.Radius.AuthServers, sv.Address)
	}
	for _, sv := range c.Radius.AcctServers {
		v.Radius.AcctServers = append(v.Radius.AcctServers, sv.Address)
	}
	return v
}

func (s *Server) configPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "config", s.configView(r))
}

func (s *Server) apiConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.configView(r))
}

// reload applies the configuration file again and audits the outcome.
func (s *Server) reload(r *http.Request) (int, string) {
	if s.opt.Reload == nil {
		return http.StatusNotImplemented, "reload is not available in this process"
	}
	if err := s.opt.Reload(); err != nil {
		s.auditReq(r, auditReloadFailed, s.sw.Config().Path(), err.Error())
		return http.StatusUnprocessableEntity, "reload refused, the running configuration is kept: " + err.Error()
	}
	s.auditReq(r, auditReload, s.sw.Config().Path(), "")
	return http.StatusOK, "configuration reloaded"
}

func (s *Server) reloadForm(w http.ResponseWriter, r *http.Request) {
	_, msg := s.reload(r)
	s.flash(r, msg)
	http.Redirect(w, r, "/config", http.StatusSeeOther)
}

func (s *Server) apiReload(w http.ResponseWriter, r *http.Request) {
	code, msg := s.reload(r)
	if code != http.StatusOK {
		s.fail(w, r, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": msg})
}
