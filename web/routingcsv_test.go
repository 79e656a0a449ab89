package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/routing"
)

// TestRoutesCSVOnTheRoutingPage: the Routing page's own download and
// import (a file upload, not the API's text/csv body): an admin's file is
// imported all or nothing, a bad line named, a form without a file
// refused; a viewer downloads but neither sees the import nor may post it.
func TestRoutesCSVOnTheRoutingPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.srv.routing.CreateGateway(ctx, routing.Gateway{Name: "a", Address: "127.0.0.1:5070", Transport: "udp", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	upload := func(c *client, csv string) response {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", c.csrf)
		if csv != "" {
			fw, _ := mw.CreateFormFile("file", "routes.csv")
			fw.Write([]byte(csv))
		}
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/routing/routes/import", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return c.do(req)
	}
	names := func() string {
		t.Helper()
		rs, err := e.srv.routing.Routes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, r := range rs {
			n = append(n, r.Name)
		}
		return strings.Join(n, " ")
	}

	a := e.login("admin")
	if p := a.get("/routing"); !strings.Contains(p.body, `id="import-routes"`) || !strings.Contains(p.body, `href="/routing/routes.csv"`) {
		t.Errorf("the admin's Routing page lacks the import form or the download")
	}
	if r := upload(a, "name,prefix,gateways\nuk,44,a\nde,49,nope\n"); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "line 3") {
		t.Errorf("a file with a bad line = %d %.300s", r.StatusCode, r.body)
	}
	if got := names(); got != "" {
		t.Fatalf("a refused file left routes: %s", got)
	}
	if r := upload(a, ""); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "choose a CSV file") {
		t.Errorf("an import without a file = %d", r.StatusCode)
	}
	if r := upload(a, "name,prefix,gateways,hunt_stop\nuk,44,a,486\nde,49,a,\n"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("import = %d %.300s", r.StatusCode, r.body)
	}
	if got := names(); got != "de uk" && got != "uk de" {
		t.Errorf("after the import the routes are %q", got)
	}

	v := e.login("viewer")
	res := v.get("/routing/routes.csv")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(res.body, "\nuk,44,") ||
		!strings.Contains(res.body, "\nde,49,") {
		t.Errorf("the page's download = %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), res.body)
	}
	if p := v.get("/routing"); strings.Contains(p.body, `id="import-routes"`) || !strings.Contains(p.body, `href="/routing/routes.csv"`) {
		t.Errorf("the viewer's Routing page offers the import, or lacks the download")
	}
	if r := upload(v, "name,prefix,gateways\nx,1,a\n"); r.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's import = %d", r.StatusCode)
	}
}
