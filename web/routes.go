package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the whole URL space. Everything but /login, /healthz, /metrics
// and the static assets needs a login (pages) or a session or API token
// (/api/v1); each route then names the least role it needs.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, securityHeaders)
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
		r.Post("/login", s.loginSubmit)
		r.Group(func(r chi.Router) {
			r.Use(s.requirePage)
			r.Post("/logout", s.logout)
			r.Get("/", s.dashboardPage)
			r.Get("/account", s.accountPage)
			r.Post("/account/password", s.changePasswordForm)
			r.Get("/calls", s.callsPage)
			r.With(s.role(roleOperator)).Post("/calls/{id}/kill", s.killCallForm)
			r.Get("/cdrs", s.cdrsPage)
			r.Get("/cdrs.csv", s.cdrsCSV)
			r.Get("/cdrs/{id}", s.cdrPage)
			r.Get("/config", s.configPage)
			r.With(s.role(roleAdmin)).Post("/config/reload", s.reloadForm)
			r.With(s.role(roleAdmin)).Get("/audit", s.auditPage)
			r.Route("/users", func(r chi.Router) {
				r.Use(s.role(roleAdmin))
				r.Get("/", s.usersPage)
				r.Post("/", s.addUserForm)
				r.Post("/{id}/disable", s.disableUserForm)
				r.Post("/{id}/enable", s.enableUserForm)
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
		r.Get("/cdrs", s.apiCDRs)
		r.Get("/cdrs/export.csv", s.cdrsCSV)
		r.Get("/cdrs/{id}", s.apiCDR)
		r.Get("/stats", s.apiStats)
		r.Get("/health", s.apiHealth)
		r.Get("/config", s.apiConfig)
		r.With(s.role(roleAdmin)).Post("/config/reload", s.apiReload)
		r.With(s.role(roleAdmin)).Get("/audit", s.apiAudit)
		r.With(s.role(roleAdmin)).Get("/users", s.apiUsers)
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
		next.ServeHTTP(w, r)
	})
}
