package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// sessionCSRF is the session key of the form token. Every form carries it
// in a hidden field and the UI's scripts send it as X-CSRF-Token: a request
// forged from another site cannot read it. It backs up
// http.CrossOriginProtection for browsers that send neither Sec-Fetch-Site
// nor Origin.
const sessionCSRF = "csrf"

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) csrfToken(r *http.Request) string {
	return s.sessions.GetString(r.Context(), sessionCSRF)
}

func (s *Server) validCSRF(r *http.Request) bool {
	want := s.csrfToken(r)
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
