package web

import (
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/tollgate/tollgate/cdr"
)

// routes is the whole URL space. Everything but /login, /healthz, /metrics
// and the static assets needs a login (pages) or a session or API token
// (/api/v1); each route then names the least role it needs.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, securityHeaders, s.bodyDeadline, bodyLimit(maxBody))
	// CrossOriginProtection refuses state-changing requests that a browser
	// marks as cross-site (Sec-Fetch-Site, else Origin); the per-session
	// form token (csrf.go) also covers browsers that send neither.
	cop := http.NewCrossOriginProtection()
	r.Use(cop.Handler)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusMethodNotAllowed, "method not allowed")
	})

	r.Get("/healthz", s.healthz)
	r.Handle("/metrics", s.metricsHandler())
	r.Handle("/static/*", staticHandler())

	r.Group(func(r chi.Router) {
		r.Use(s.sessions.LoadAndSave, s.needDB)
		r.Get("/login", s.loginPage)
		r.With(bodyLimit(maxLoginBody)).Post("/login", s.loginSubmit)
		r.Group(func(r chi.Router) {
			r.Use(s.requirePage)
			r.Post("/logout", s.logout)
			r.Get("/", s.dashboardPage)
			r.Get("/account", s.accountPage)
			r.Post("/account/password", s.changePasswordForm)
			r.Get("/calls", s.callsPage)
			r.Get("/calls/{id}", s.callPage)
			r.With(s.role(roleOperator)).Post("/calls/{id}/kill", s.killCallForm)
			r.Get("/registrations", s.registrationsPage)
			r.With(s.role(roleOperator)).Post("/registrations/{id}/remove", s.unregisterForm)
			r.Get("/cdrs", s.cdrsPage)
			r.Get("/cdrs.csv", s.cdrsCSV)
			r.Get("/cdrs/{id}", s.cdrPage)
			r.Get("/stats", s.statsPage)
			r.Get("/config", s.configPage)
			r.With(s.role(roleAdmin)).Post("/config/reload", s.reloadForm)
			r.With(s.role(roleAdmin)).Get("/audit", s.auditPage)
			r.Route("/routing", func(r chi.Router) {
				r.Get("/", s.routingPage)
				r.Get("/routes.csv", s.routesCSV)
				r.Group(func(r chi.Router) {
					r.Use(s.role(roleAdmin))
					r.Post("/gateways", s.addGatewayForm)
					r.Get("/gateways/{id}/edit", s.editGatewayPage)
					r.Post("/gateways/{id}", s.editGatewayForm)
					r.Post("/gateways/{id}/enable", s.gatewayEnableForm(true))
					r.Post("/gateways/{id}/disable", s.gatewayEnableForm(false))
					r.Post("/gateways/{id}/delete", s.deleteGatewayForm)
					r.Post("/routes", s.addRouteForm)
					r.Get("/routes/{id}/edit", s.editRoutePage)
					r.Post("/routes/{id}", s.editRouteForm)
					r.Post("/routes/import", s.importRoutesForm)
					r.Post("/routes/{id}/enable", s.routeEnableForm(true))
					r.Post("/routes/{id}/disable", s.routeEnableForm(false))
					r.Post("/routes/{id}/delete", s.deleteRouteForm)
				})
			})
			r.Route("/gateway-groups", func(r chi.Router) {
				r.Get("/", s.groupsPage)
				r.Group(func(r chi.Router) {
					r.Use(s.role(roleAdmin))
					r.Post("/", s.addGroupForm)
					r.Get("/{id}/edit", s.editGroupPage)
					r.Post("/{id}", s.editGroupForm)
					r.Post("/{id}/delete", s.deleteGroupForm)
				})
			})
			r.Route("/users", func(r chi.Router) {
				r.Use(s.role(roleAdmin))
				r.Get("/", s.usersPage)
				r.Post("/", s.addUserForm)
				r.Post("/{id}/disable", s.userForm(disableChange(true)))
				r.Post("/{id}/enable", s.userForm(disableChange(false)))
				r.Post("/{id}/role", s.userForm(roleChange))
				r.Post("/{id}/delete", s.userForm(deleteChange))
				r.Post("/{id}/password", s.resetPasswordForm)
				r.Post("/{id}/tokens", s.addTokenForm)
				r.Post("/tokens/{id}/revoke", s.revokeTokenForm)
			})
		})
	})

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.sessions.LoadAndSave, s.needDB, s.requireAPI)
		r.Get("/me", s.apiMe)
		r.Post("/me/password", s.apiChangePassword)
		r.Get("/calls", s.apiCalls)
		r.With(s.role(roleOperator)).Delete("/calls/{id}", s.apiKillCall)
		r.Get("/calls/{id}", s.apiCall)
		r.Get("/calls/{id}/dtmf", s.apiCallDTMF)
		r.Get("/registrations", s.apiRegistrations)
		r.With(s.role(roleOperator)).Delete("/registrations/{id}", s.apiUnregister)
		r.Route("/subscribers", func(r chi.Router) {
			r.Get("/", s.apiSubscribers)
			r.With(s.role(roleAdmin)).Post("/", s.apiAddSubscriber)
			r.With(s.role(roleAdmin)).Delete("/{user}", s.apiDeleteSubscriber)
		})
		r.Get("/cdrs", s.apiCDRs)
		r.Get("/cdrs/export.csv", s.cdrsCSV)
		r.Get("/cdrs/totals", s.apiCDRTotals)
		r.Get("/cdrs/{id}", s.apiCDR)
		r.Get("/stats", s.apiStats)
		r.Get("/stats/gateways", s.apiGroupStats(cdr.ByGateway))
		r.Get("/stats/routes", s.apiGroupStats(cdr.ByRoute))
		r.Get("/stats/accounts", s.apiGroupStats(cdr.ByAccount))
		r.Get("/health", s.apiHealth)
		r.Get("/config", s.apiConfig)
		r.With(s.role(roleAdmin)).Post("/config/reload", s.apiReload)
		r.With(s.role(roleAdmin)).Get("/audit", s.apiAudit)
		r.Route("/gateways", func(r chi.Router) {
			r.Get("/", s.apiGateways)
			r.Get("/health", s.apiGatewayHealth)
			r.Get("/load", s.apiGatewayLoad)
			r.Get("/{id}", s.apiGateway)
			r.With(s.role(roleAdmin)).Post("/", s.apiAddGateway)
			r.With(s.role(roleAdmin)).Put("/{id}", s.apiPutGateway)
			r.With(s.role(roleAdmin)).Delete("/{id}", s.apiDeleteGateway)
		})
		r.Route("/gateway-groups", func(r chi.Router) {
			r.Get("/", s.apiGroups)
			r.Get("/{id}", s.apiGroup)
			r.With(s.role(roleAdmin)).Post("/", s.apiAddGroup)
			r.With(s.role(roleAdmin)).Put("/{id}", s.apiPutGroup)
			r.With(s.role(roleAdmin)).Delete("/{id}", s.apiDeleteGroup)
		})
		r.Route("/routes", func(r chi.Router) {
			r.Get("/", s.apiRoutes)
			r.Get("/export.csv", s.routesCSV)
			r.With(s.role(roleAdmin)).Post("/import", s.apiImportRoutes)
			r.Get("/{id}", s.apiRoute)
			r.With(s.role(roleAdmin)).Post("/", s.apiAddRoute)
			r.With(s.role(roleAdmin)).Put("/{id}", s.apiPutRoute)
			r.With(s.role(roleAdmin)).Delete("/{id}", s.apiDeleteRoute)
		})
		r.Route("/users", func(r chi.Router) {
			r.Use(s.role(roleAdmin))
			r.Get("/", s.apiUsers)
			r.Post("/", s.apiAddUser)
			r.Patch("/{id}", s.apiChangeUser)
			r.Delete("/{id}", s.apiDeleteUser)
			r.Post("/{id}/password", s.apiResetPassword)
			r.Post("/{id}/tokens", s.apiAddToken)
		})
		r.Route("/tokens", func(r chi.Router) {
			r.Use(s.role(roleAdmin))
			r.Get("/", s.apiTokens)
			r.Delete("/{id}", s.apiRevokeToken)
		})
	})
	return r
}

// securityHeaders keep the pages out of frames and other origins' reach.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		if r.TLS != nil {
			// Served over TLS: the browser is to come back only that way.
			// A year, as browsers' preload lists ask; no includeSubDomains:
			// the UI speaks for its own host, not for its siblings.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// Request bodies: every form and JSON body of the UI and API is small, and
// one that trickles in must not hold a connection (and a goroutine) open.
const (
	maxBody      = 64 << 10 // the largest form: a user or a token
	maxLoginBody = 4 << 10  // a name, a password and a redirect target
)

// bodyLimit refuses a body larger than n with 413 when it is read.
func bodyLimit(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// bodyDeadline gives a request that has a body Options.BodyTimeout to send
// it all, from the end of its headers (which http.Server's
// ReadHeaderTimeout bounds): a client sending one byte every few seconds is
// cut off instead of being waited for. The deadline is lifted once the body
// is read: net/http's background read of an idle connection would otherwise
// hit it and cancel the request's context in the middle of the handler.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(s.opt.BodyTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.rc != nil {
		_ = b.rc.SetReadDeadline(time.Time{}) // it was set on this connection: cannot fail
		b.rc = nil
	}
	return n, err
}
