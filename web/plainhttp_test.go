package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// TestPlainHTTPLoginWarning: over plain HTTP beyond loopback the Secure
// session cookie is dropped and the login loops; the login page says so.
func TestPlainHTTPLoginWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plain := httptest.NewServer(e.srv.Handler())
	t.Cleanup(plain.Close)
	get := func(base, host string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
		req.Host = host
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, tc := range []struct {
		base, host string
		warn, hsts bool
	}{
		{plain.URL, "tollgate.example:8080", true, false},
		{plain.URL, "192.0.2.10:8080", true, false},
		{plain.URL, "127.0.0.1:8080", false, false},
		{plain.URL, "[::1]:8080", false, false},
		{plain.URL, "localhost:8080", false, false},
		{e.ts.URL, "tollgate.example:8443", false, true},
	} {
		res, body := get(tc.base, tc.host)
		if got := strings.Contains(body, `id="plain-http"`); got != tc.warn || res.StatusCode != http.StatusOK {
			t.Errorf("%s via %s: %d, warning %v, want %v", tc.host, tc.base, res.StatusCode, got, tc.warn)
		}
		if got := res.Header.Get("Strict-Transport-Security") != ""; got != tc.hsts {
			t.Errorf("%s via %s: HSTS %q", tc.host, tc.base, res.Header.Get("Strict-Transport-Security"))
		}
	}
}

func TestPlainHTTPWarningAtStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w    config.Web
		want string
	}{
		{config.Web{Listen: "127.0.0.1:8080"}, ""},
		{config.Web{Listen: "[::1]:8080"}, ""},
		{config.Web{Listen: "0.0.0.0:8080", TLSCert: "c", TLSKey: "k"}, ""},
		{config.Web{Listen: "0.0.0.0:8080", Disable: true}, ""},
		{config.Web{Listen: "0.0.0.0:8080"}, "logins come back to the login page"},
		{config.Web{Listen: ":8080"}, "logins come back to the login page"},
		{config.Web{Listen: "192.0.2.1:8080", InsecureCookies: true}, "cross the network in clear"},
	} {
		got := PlainHTTPWarning(tc.w)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.w, got, tc.want)
		}
	}
}
