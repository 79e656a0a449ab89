package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestServeGatewayWithoutAFile: `tollgate serve --gateway HOST:PORT` with no
// configuration file switches SIPp's calls to that gateway and records them.
func TestServeGatewayWithoutAFile(t *testing.T) {
	t.Parallel()
	gw := uas(t, "uas.xml", nil)
	p := &proc{t: t, ip: "127.0.0.1", port: testenv.FreePort(t), dir: t.TempDir(), lines: make(chan string, 1000), exited: make(chan struct{})}
	p.args = []string{"serve", "--gateway", gw.Addr(),
		"--listen", fmt.Sprintf("udp:127.0.0.1:%d,tcp:127.0.0.1:%d", p.port, p.port),
		"--cdr-dir", filepath.Join(p.dir, "cdr")}
	p.start()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("tollgate log:\n%s", p.output())
		}
	})
	const calls = 3
	st := p.sippRun(t, testenv.SIPpOptions{Scenario: "uac.xml", Service: "15551230002", Calls: calls, Rate: 10, Timeout: 60 * time.Second})
	if st.Successful != calls || st.Failed != 0 {
		t.Fatalf("SIPp caller: %s", st)
	}
	for _, r := range p.records(t, calls) {
		if r["gateway"] != gw.Addr() || r["sip_code"] != "200" {
			t.Errorf("record: gateway %q code %q, want %s 200", r["gateway"], r["sip_code"], gw.Addr())
		}
	}
	p.signal(syscall.SIGHUP)
	p.waitLog("no configuration file to reload", 10*time.Second)
}

func TestServeGatewayFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--gateway", "127.0.0.1:5080", "-c", "x.yaml"}, "not both"},
		{[]string{"--listen", "udp:127.0.0.1:5070"}, "go with --gateway"},
		{[]string{"--gateway", "gw.example:5060\nroutes: []"}, "--gateway"},
		{[]string{"--gateway", "127.0.0.1:99999"}, "bad port"},
	} {
		var stderr bytes.Buffer
		if code := serve(tc.args, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("serve %q: exit %d: %s", tc.args, code, stderr.String())
		}
	}
	c, err := gatewayConfig("gw.example", "", "cdr")
	if err != nil || len(c.Routes) != 1 || c.Routes[0].Prefix != "" || !c.Web.Disable {
		t.Fatalf("gatewayConfig: %v %+v", err, c)
	}
}
