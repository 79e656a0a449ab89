package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages are the parsed templates, one set per page, each with the layout.
type pages struct{ t map[string]*template.Template }

var funcs = template.FuncMap{
	"since":    sinceText,
	"dur":      durText,
	"ms":       func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) },
	"mib":      func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) },
	"ts":       tsText,
	"codeCls":  codeClass,
	"stateCls": stateClass,
	"admissionCls": func(a string) string {
		if a == "admitting" {
			return "ok"
		}
		return "warn"
	},
	"clusterCallLimit": func() int { return clusterCallLimit },
	"outcomeCls":       outcomeClass,
	"words":            func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"latency":          latencyText,
	"radiusCls":        radiusClass,
	"q":                urlQueryEscape,
}

func loadPages() (*pages, error) {
	layout, err := templateFiles.ReadFile("templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	entries, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	p := &pages{t: map[string]*template.Template{}}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		body, err := templateFiles.ReadFile(e)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// pageData is what the layout needs around every page's own data.
type pageData struct {
	Title  string
	Nav    string
	User   *principal
	CSRF   string
	Flash  string
	Reload bool
	Data   any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	t := s.pages.t[name]
	pd := pageData{Title: titles[name], Nav: name, User: who(r.Context()), Data: data, Reload: s.opt.Reload != nil}
	// Only a logged-in page has a loaded session with a form token; the
	// login form itself is guarded by CrossOriginProtection.
	if pd.User != nil {
		pd.CSRF = s.csrfToken(r)
		pd.Flash = s.sessions.PopString(r.Context(), "flash")
	}
	// Rendering into a buffer first turns a template error into a clean
	// 500 instead of half a page.
	var buf bytes.Buffer
	if err := t.Execute(&buf, pd); err != nil {
		s.log.Error("render", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

var titles = map[string]string{
	"login": "Log in", "dashboard": "Dashboard", "calls": "Active calls", "cdrs": "Call records",
	"cdr": "Call record", "config": "Configuration", "audit": "Audit log", "users": "Users and tokens",
	"account": "Your account", "routing": "Routing", "routing_edit": "Edit routing", "gateway_groups": "Gateway groups", "call": "Call", "stats": "Statistics", "registrations": "Registrations",
	"error": "Error",
}

func (s *Server) flash(r *http.Request, msg string) { s.sessions.Put(r.Context(), "flash", msg) }

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// fail answers an error: JSON {"error": msg} under /api, a page otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isAPI(r) || r.URL.Path == "/metrics" {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	if s.pages == nil {
		http.Error(w, msg, code)
		return
	}
	s.render(w, r, code, "error", errorView{Code: code, Status: http.StatusText(code), Message: msg})
}

type errorView struct {
	Code    int
	Status  string
	Message string
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func sinceText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return durText(time.Since(t))
}

func durText(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

func tsText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

func codeClass(code int) string {
	switch {
	case code >= 200 && code < 300:
		return "ok"
	case code == 486 || code == 487 || code == 480:
		return "warn"
	case code >= 300:
		return "bad"
	}
	return "muted"
}

// outcomeClass colours an attempt outcome: answered good, what the far
// end decided (busy, no answer, cancelled) a warning, failures bad.
func outcomeClass(outcome string) string {
	switch outcome {
	case "answered":
		return "ok"
	case "busy", "no_answer", "cancelled":
		return "warn"
	}
	return "bad"
}

// latencyText shows a RADIUS latency to the microsecond below a
// millisecond (a local server answers that fast), else to 0.1 ms.
func latencyText(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func radiusClass(auth string) string {
	switch auth {
	case cdr.AuthAccept:
		return "ok"
	case cdr.AuthReject, cdr.AuthUnavailable:
		return "warn"
	}
	return "bad"
}

func stateClass(state string) string {
	switch state {
	// updating: a connected call with a re-INVITE or UPDATE in progress.
	case "connected", "confirmed", "established", "updating":
		return "ok"
	case "ringing", "early", "proceeding", "trying", "cancelling":
		return "warn"
	}
	return "muted"
}
