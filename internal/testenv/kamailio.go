package testenv

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

//go:embed testdata/kamailio-rtpproxy.cfg
var kamailioRtpproxyCfg string

//go:embed testdata/kamailio-dispatcher.cfg
var kamailioDispatcherCfg string

// Kamailio is a running Kamailio proxy.
type Kamailio struct {
	// Addr is its SIP UDP address, "127.0.0.1:port".
	Addr string

	ctl string // its control socket, for kamcmd (dispatcher only)
}

// kamailioModulePaths are where Debian and others put Kamailio's modules.
var kamailioModulePaths = []string{
	"/usr/lib/x86_64-linux-gnu/kamailio/modules",
	"/usr/lib/aarch64-linux-gnu/kamailio/modules",
	"/usr/lib/kamailio/modules",
	"/usr/lib64/kamailio/modules",
}

// StartKamailio runs Debian's kamailio (installed when missing) in the
// foreground on a free loopback port, with a script that anchors media
// through the rtpproxy-protocol relay at rtpproxySock ("udp:127.0.0.1:N" or
// "unix:/path") and relays every request to nextHop ("127.0.0.1:port"). It
// waits until Kamailio answers OPTIONS and stops it when the test ends.
func StartKamailio(t testing.TB, rtpproxySock, nextHop string) *Kamailio {
	t.Helper()
	return StartKamailioOn(t, "127.0.0.1", rtpproxySock, nextHop)
}

// StartKamailioOn is StartKamailio listening on ip, 127.0.0.1 or ::1
// (nextHop then "[::1]:port"), for calls whose SDP is IPv6: Kamailio's
// rtpproxy module then sends the relay U6/L6.
func StartKamailioOn(t testing.TB, ip, rtpproxySock, nextHop string) *Kamailio {
	t.Helper()
	modPath := kamailioModules(t, "rtpproxy.so")
	port := FreeUDPPort(t)
	return runKamailio(t, kamailioRtpproxyCfg, ip, port, map[string]any{
		"Listen": net.JoinHostPort(ip, strconv.Itoa(port)), "ModulePath": modPath, "RtpproxySock": rtpproxySock, "NextHop": nextHop,
	})
}

// DispatcherOptions configure StartKamailioDispatcher.
type DispatcherOptions struct {
	// IP is the loopback address it listens on; default 127.0.0.1.
	IP string
	// Nodes are the Tollgates' SIP addresses ("127.0.0.2:5060"), set 1.
	Nodes []string
	// PingInterval is how often each node is probed with OPTIONS; whole
	// seconds, default 1s.
	PingInterval time.Duration
}

// StartKamailioDispatcher runs Kamailio as the dispatcher in front of
// several Tollgates (testdata/kamailio-dispatcher.cfg): OPTIONS probes,
// round-robin over the nodes in service, X-Orig-IP/-Port/-Proto naming the
// caller, Record-Route. It waits until Kamailio answers OPTIONS.
func StartKamailioDispatcher(t testing.TB, o DispatcherOptions) *Kamailio {
	t.Helper()
	modPath := kamailioModules(t, "dispatcher.so")
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	interval := max(1, int(o.PingInterval/time.Second))
	dir := t.TempDir()
	var list strings.Builder
	for _, n := range o.Nodes {
		fmt.Fprintf(&list, "1 sip:%s 0 0\n", n)
	}
	listFile := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreeUDPPort(t)
	k := runKamailio(t, kamailioDispatcherCfg, o.IP, port, map[string]any{
		"IP": o.IP, "Port": port, "ModulePath": modPath, "ListFile": listFile,
		"PingInterval": interval, "CtlSocket": filepath.Join(dir, "ctl.sock"),
	})
	k.ctl = filepath.Join(dir, "ctl.sock")
	return k
}

// DispatcherStates returns each node's dispatcher flags by its address:
// "AP" active (probing), "IP" inactive (probing), as kamcmd
// dispatcher.list prints them.
func (k *Kamailio) DispatcherStates(t testing.TB) map[string]string {
	t.Helper()
	out, err := exec.Command("kamcmd", "-s", "unix:"+k.ctl, "dispatcher.list").CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: kamcmd dispatcher.list: %v\n%s", err, out)
	}
	states := map[string]string{}
	uri := ""
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "URI:":
			uri = strings.TrimPrefix(f[1], "sip:")
		case "FLAGS:":
			states[uri] = f[1]
		}
	}
	return states
}

// kamailioModules is the directory holding Kamailio's modules, module among
// them.
func kamailioModules(t testing.TB, module string) string {
	t.Helper()
	RequireBinary(t, "kamailio", "kamailio")
	for _, p := range kamailioModulePaths {
		if _, err := os.Stat(filepath.Join(p, module)); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: kamailio's %s not found in %v", module, kamailioModulePaths)
	return ""
}

// runKamailio starts kamailio with the script tmpl filled from values,
// listening on ip:port, and waits until it answers OPTIONS.
func runKamailio(t testing.TB, tmpl, ip string, port int, values map[string]any) *Kamailio {
	t.Helper()
	bin := RequireBinary(t, "kamailio", "kamailio")
	dir := t.TempDir()
	var cfg bytes.Buffer
	if err := template.Must(template.New("kamailio").Parse(tmpl)).Execute(&cfg, values); err != nil {
		t.Fatalf("testenv: kamailio config: %v", err)
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// -DD -E: foreground, children forked, logs on stderr. -Y: a private
	// runtime dir, so that runs never share /run/kamailio.
	cmd := exec.Command(bin, "-DD", "-E", "-f", cfgPath, "-Y", dir, "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-m", "64", "-M", "8")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start kamailio: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kamailio output:\n%s", logs.String())
		}
	})
	k := &Kamailio{Addr: net.JoinHostPort(ip, strconv.Itoa(port))}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("testenv: kamailio exited: %v\n%s", err, logs.String())
		default:
		}
		if k.ping() {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: kamailio did not answer OPTIONS within 30s\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond) // poll interval: a refused datagram returns at once
	}
}

// ping sends OPTIONS and reports whether a 200 came back within a second.
func (k *Kamailio) ping() bool {
	c, err := net.Dial("udp", k.Addr)
	if err != nil {
		return false
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := "OPTIONS sip:" + k.Addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-ping" + fmt.Sprint(time.Now().UnixNano()) + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:ping@" + local + ">;tag=p\r\nTo: <sip:" + k.Addr + ">\r\n" +
		"Call-ID: ping-" + fmt.Sprint(time.Now().UnixNano()) + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
}
