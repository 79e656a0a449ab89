package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/routing"
)

// The API's description, docs/api/openapi.yaml, is checked by kin-openapi:
// a maintained OpenAPI 3.0/3.1 library (parser, validator of documents and
// of requests and responses) used by oapi-codegen and oasdiff, fetched
// through the Go module proxy like every dependency, and needed by tests
// only.
const specPath = "../docs/api/openapi.yaml"

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(filepath.FromSlash(specPath))
	if err != nil {
		t.Fatalf("%s does not load: %v", specPath, err)
	}
	if err := doc.Validate(l.Context); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", specPath, err)
	}
	return doc
}

func TestOpenAPISpecIsValid(t *testing.T) { loadSpec(t) }

// TestOpenAPISpecMatchesServer: every /api/v1 route of the server is in the
// description, and every GET of the description, asked of a running
// server with data in it, answers as described (status, content type and
// body schema).
func TestOpenAPISpecMatchesServer(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	recs := []cdr.Record{testRecord(1, now.Add(-time.Minute)), testRecord(3, now.Add(-2*time.Minute))}
	secret, _, err := e.srv.store.addToken(context.Background(), 1, "spec") // user 1 is the admin
	if err != nil {
		t.Fatal(err)
	}
	api := e.anon()
	api.tok = secret

	err = chi.Walk(e.srv.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/v1/") {
			return nil
		}
		route = strings.TrimSuffix(route, "/")
		if p := doc.Paths.Find(route); p == nil || p.GetOperation(method) == nil {
			t.Errorf("%s %s is served but not in %s", method, route, specPath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// First with nothing in the database (empty lists must be [], not
	// null), then with records and a call.
	// A gateway and a route, for their {id} paths.
	ctx := context.Background()
	gw, err := e.srv.routing.CreateGateway(ctx, routing.Gateway{Name: "gw", Address: "127.0.0.1:5070", Transport: "udp", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := e.srv.routing.CreateRoute(ctx, routing.Route{Name: "r", Prefix: "44", Gateways: []string{"gw"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	grp, err := e.srv.routing.CreateGroup(ctx, routing.Group{Name: "g", Members: []routing.GroupMember{{Gateway: "gw", Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if gw.ID != rt.ID || gw.ID != grp.ID {
		t.Fatalf("gateway %d, route %d and group %d: the walk gives all one id", gw.ID, rt.ID, grp.ID)
	}
	routingID := strconv.FormatInt(gw.ID, 10)
	walkSpec(t, doc, api, testRecord(99, now).ID, routingID)
	if err := cdr.NewPGWriter(e.db).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	e.addCall("6f1c1f1e-3a59-4b43-9a4c-1d0d6a0e0a01", "15550001", "4420790001")
	walkSpec(t, doc, api, recs[0].ID, routingID)
}

// walkSpec asks every GET of doc, with id for path parameters (routingID
// under /gateways, /gateway-groups and /routes), and validates each answer against doc.
func walkSpec(t *testing.T, doc *openapi3.T, api *client, id, routingID string) {
	t.Helper()
	for path, item := range doc.Paths.Map() {
		params := map[string]string{"id": id}
		if strings.HasPrefix(path, "/api/v1/gateways/") || strings.HasPrefix(path, "/api/v1/routes/") || strings.HasPrefix(path, "/api/v1/gateway-groups/") {
			params["id"] = routingID
		}
		op := item.Get
		if op == nil {
			continue
		}
		u := path
		for k, v := range params {
			u = strings.ReplaceAll(u, "{"+k+"}", v)
		}
		res := api.get(u)
		req, _ := http.NewRequest(http.MethodGet, api.e.ts.URL+u, nil)
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params,
				Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: http.MethodGet, Operation: op},
			},
			Status: res.StatusCode, Header: res.Header,
			Body:    io.NopCloser(bytes.NewReader([]byte(res.body))),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("GET %s: %d does not match %s: %v\n%.300s", u, res.StatusCode, specPath, err, res.body)
		}
		// {id} is a record's: a call of that id is not up.
		callPath := path == "/api/v1/calls/{id}/dtmf" || path == "/api/v1/calls/{id}"
		if res.StatusCode >= 300 && path != "/api/v1/health" && !((path == "/api/v1/cdrs/{id}" || callPath) && res.StatusCode == http.StatusNotFound) {
			t.Errorf("GET %s = %d %.200s", u, res.StatusCode, res.body)
		}
	}
}
