package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// TestOpenAPIWritesMatchServer: the API's changes — gateways, routes and
// their CSV import, users, passwords and tokens, each created, changed,
// refused and deleted — sent as docs/api/openapi.yaml describes them, are
// answered as it describes (status, content type, body schema). The walk
// of TestOpenAPISpecMatchesServer covers the GETs.
func TestOpenAPIWritesMatchServer(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	e := newEnv(t)
	secret, _, err := e.srv.store.addToken(context.Background(), 1, "spec") // user 1 is the admin
	if err != nil {
		t.Fatal(err)
	}
	api := e.anon()
	api.tok = secret
	ids := map[string]string{}
	// send makes one request of path (a template of the spec, {x} taken
	// from ids), checks request and answer against the spec and the
	// answer's status against want, and keeps the answer's id as ids[keep].
	send := func(method, path, contentType, body string, want int, keep string) {
		t.Helper()
		params, u := map[string]string{}, path
		for k, v := range ids {
			if strings.Contains(u, "{"+k+"}") {
				params[k] = v
				u = strings.ReplaceAll(u, "{"+k+"}", v)
			}
		}
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("%s %s is not in %s", method, path, specPath)
		}
		route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}
		specReq, _ := http.NewRequest(method, api.e.ts.URL+u, strings.NewReader(body))
		if contentType != "" {
			specReq.Header.Set("Content-Type", contentType)
		}
		reqIn := &openapi3filter.RequestValidationInput{Request: specReq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), reqIn); err != nil && want < 300 {
			t.Errorf("%s %s %s: the request does not match %s: %v", method, u, body, specPath, err)
		}
		req, _ := http.NewRequest(method, api.e.ts.URL+u, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res := api.do(req)
		if res.StatusCode != want {
			t.Fatalf("%s %s %s = %d %.300s, want %d", method, u, body, res.StatusCode, res.body, want)
		}
		reqIn.Request, _ = http.NewRequest(method, api.e.ts.URL+u, nil)
		in := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: res.StatusCode, Header: res.Header,
			Body: io.NopCloser(bytes.NewReader([]byte(res.body))), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s: %d does not match %s: %v\n%.300s", method, u, res.StatusCode, specPath, err, res.body)
		}
		if keep != "" {
			var v struct {
				ID json.Number `json:"id"`
			}
			if json.Unmarshal([]byte(res.body), &v) != nil || v.ID == "" {
				t.Fatalf("%s %s: no id in %s", method, u, res.body)
			}
			ids[keep] = v.ID.String()
		}
	}
	const jsonType = "application/json"
	send(http.MethodPost, "/api/v1/gateways", jsonType, `{"name": "gw-w", "address": "nowhere"}`, http.StatusBadRequest, "")
	send(http.MethodPost, "/api/v1/gateways", jsonType, `{"name": "gw-w", "address": "127.0.0.1:5071", "max_calls": 10}`, http.StatusCreated, "id")
	send(http.MethodPut, "/api/v1/gateways/{id}", jsonType, `{"name": "gw-w", "address": "127.0.0.1:5072", "enabled": true}`, http.StatusOK, "")
	gwID := ids["id"]
	send(http.MethodPost, "/api/v1/routes", jsonType, `{"name": "rw", "prefix": "49", "gateways": ["gw-w"], "no_progress": "3s"}`, http.StatusCreated, "id")
	send(http.MethodPut, "/api/v1/routes/{id}", jsonType, `{"name": "rw", "prefix": "491", "gateways": ["gw-w"], "enabled": true}`, http.StatusOK, "")
	send(http.MethodPost, "/api/v1/routes/import", "text/csv", "name,prefix,gateways\nrw2,33,gw-w\n", http.StatusOK, "")
	send(http.MethodPost, "/api/v1/routes/import", "text/csv", "name,prefix,gateways\nrw3,34,nope\n", http.StatusBadRequest, "")
	routeID := ids["id"]
	ids["id"] = gwID
	send(http.MethodDelete, "/api/v1/gateways/{id}", "", "", http.StatusConflict, "")
	ids["id"] = routeID
	send(http.MethodDelete, "/api/v1/routes/{id}", "", "", http.StatusOK, "")

	send(http.MethodPost, "/api/v1/users", jsonType, `{"name": "writer", "role": "viewer"}`, http.StatusCreated, "id")
	send(http.MethodPost, "/api/v1/users", jsonType, `{"name": "writer", "role": "viewer"}`, http.StatusConflict, "")
	send(http.MethodPatch, "/api/v1/users/{id}", jsonType, `{"role": "operator", "disabled": true}`, http.StatusOK, "")
	send(http.MethodPost, "/api/v1/users/{id}/password", "", "", http.StatusOK, "")
	userID := ids["id"]
	send(http.MethodPost, "/api/v1/users/{id}/tokens", jsonType, `{"name": "ci"}`, http.StatusCreated, "id")
	send(http.MethodDelete, "/api/v1/tokens/{id}", "", "", http.StatusOK, "")
	send(http.MethodDelete, "/api/v1/tokens/{id}", "", "", http.StatusNotFound, "")
	ids["id"] = userID
	send(http.MethodDelete, "/api/v1/users/{id}", "", "", http.StatusOK, "")
	send(http.MethodPost, "/api/v1/me/password", jsonType, `{"current_password": "wrong", "new_password": "`+newPassword+`"}`, http.StatusForbidden, "")
}
