package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestGatewayHealthHistory: a probed gateway's state changes are listed on
// the Routing page (when, and to what) and in /api/v1/gateways/health, as
// the probes recorded them, with its count of unanswered probes; any
// logged-in user sees them.
func TestGatewayHealthHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.login("viewer")
	page := v.get("/routing")
	row := regexp.MustCompile(`(?s)<tr data-address="127\.0\.0\.1:5080">(.*?)</tr>`).FindStringSubmatch(page.body)
	if page.StatusCode != http.StatusOK || row == nil {
		t.Fatalf("routing page = %d, no health row for the probed gateway", page.StatusCode)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<span class="state bad">down</span>`),
		regexp.MustCompile(`<td>3</td>`), // unanswered in a row
		regexp.MustCompile(`<div>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[^<]* down</div>`),
	} {
		if !want.MatchString(row[1]) {
			t.Errorf("the health row lacks %s:\n%s", want, row[1])
		}
	}
	res := v.get("/api/v1/gateways/health")
	var h struct {
		Gateways []struct {
			Address  string `json:"address"`
			Up       bool   `json:"up"`
			Failures int    `json:"failures"`
			History  []struct {
				At string `json:"at"`
				Up bool   `json:"up"`
			} `json:"history"`
		} `json:"gateways"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(res.body), &h) != nil || len(h.Gateways) != 1 {
		t.Fatalf("gateway health = %d %s", res.StatusCode, res.body)
	}
	if g := h.Gateways[0]; g.Address != "127.0.0.1:5080" || g.Up || g.Failures != 3 || len(g.History) != 1 || g.History[0].Up ||
		!strings.HasPrefix(g.History[0].At, "20") {
		t.Errorf("gateway health %+v", g)
	}
}
