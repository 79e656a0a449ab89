package testenv

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

//go:embed testdata/kamailio-rtpproxy.cfg
var kamailioRtpproxyCfg string

// Kamailio is a running Kamailio proxy.
type Kamailio struct {
	// Addr is its SIP UDP address, "127.0.0.1:port".
	Addr string
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
	bin := RequireBinary(t, "kamailio", "kamailio")
	modPath := ""
	for _, p := range kamailioModulePaths {
		if _, err := os.Stat(filepath.Join(p, "rtpproxy.so")); err == nil {
			modPath = p
			break
		}
	}
	if modPath == "" {
		t.Fatalf("testenv: kamailio's rtpproxy.so not found in %v", kamailioModulePaths)
	}
	dir := t.TempDir()
	port := FreeUDPPort(t)
	var cfg bytes.Buffer
	err := template.Must(template.New("kamailio").Parse(kamailioRtpproxyCfg)).Execute(&cfg, map[string]any{
		"Port": port, "ModulePath": modPath, "RtpproxySock": rtpproxySock, "NextHop": nextHop,
	})
	if err != nil {
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
	k := &Kamailio{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
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
	c, err := net.Dial("udp4", k.Addr)
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
