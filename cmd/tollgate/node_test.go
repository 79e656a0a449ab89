package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestNodeNamedEverywhere: cluster.node is in the call's CDR row, on every
// log line and on every metric, so that a cluster's records, logs and series
// gathered in one place say which server each came from. (The RADIUS side,
// NAS-Identifier and h323-gw-id, is checked against FreeRADIUS in
// aaa.TestAccountingRecordsFreeRADIUS.)
func TestNodeNamedEverywhere(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	answer := uas(t, "uas.xml", nil)
	p := startTollgate(t, fmt.Sprintf(`cluster:
  node: sw-7
routes:
  - {name: answer, prefix: "1", gateways: [{address: %q}]}
cdr:
  migrate: true
`, answer.Addr()), "TOLLGATE_CDR_DATABASE="+dsn)
	p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "1001", Calls: 1})
	waitRows(t, dsn, "SELECT count(*) AS n FROM cdrs WHERE node = 'sw-7'", 1)

	for _, line := range strings.Split(strings.TrimSpace(p.output()), "\n") {
		if strings.HasPrefix(line, "{") && !strings.Contains(line, `"node":"sw-7"`) {
			t.Errorf("log line without the node: %s", line)
		}
	}
	m := p.metrics()
	for _, series := range []string{`tollgate_calls_started_total{node="sw-7"} 1`, `go_goroutines{node="sw-7"}`} {
		if !strings.Contains(m, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}
