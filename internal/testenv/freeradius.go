package testenv

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// freeradiusConf is the test server's configuration: the minimum of
// Debian's /etc/freeradius/3.0, as text/template files.
//
//go:embed freeradius
var freeradiusConf embed.FS

// FreeRADIUSOptions tunes a FreeRADIUS.
type FreeRADIUSOptions struct {
	// RequireMessageAuthenticator makes the server drop requests without a
	// valid Message-Authenticator.
	RequireMessageAuthenticator bool
	// Users, when set, replaces the users file of
	// internal/testenv/freeradius/users: for callers whose addresses are
	// only known at run time, such as the load driver's SIPp.
	Users string
	// NoStatusServer turns Status-Server (RFC 5997) off, as on a server
	// that does not implement it; readiness is then checked with an
	// Access-Request.
	NoStatusServer bool
	// TLS, when set, adds a RadSec listener (RFC 6614, TLSAddr) with these
	// certificates, requiring a client certificate from the same CA.
	TLS *TestPKI
	// Dir is where the configuration, the detail file and the log go;
	// empty: the test's TempDir (StartFreeRADIUS), or a temporary folder
	// that Close removes (NewFreeRADIUS).
	Dir string
}

// FreeRADIUS is a real FreeRADIUS 3.2 on free loopback ports, with the users
// of internal/testenv/freeradius/users and a detail file of accounting. It
// always runs without -X: debug logging makes it about ten times slower,
// which would make the load driver measure FreeRADIUS's log writer.
type FreeRADIUS struct {
	AuthAddr string // 127.0.0.1:port
	AcctAddr string
	TLSAddr  string // RadSec, when FreeRADIUSOptions.TLS is set
	Secret   string
	ConfDir  string

	noStatusServer bool
	AcctDir        string // holds the "detail" file

	t       testing.TB // nil outside a test (NewFreeRADIUS)
	opts    FreeRADIUSOptions
	bin     string
	runDir  string
	tempDir string // removed by Close, when NewFreeRADIUS made it
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartFreeRADIUS starts FreeRADIUS (installing Debian's freeradius when
// missing) and returns once it answers a Status-Server. It is stopped when
// the test ends.
func StartFreeRADIUS(t testing.TB, opts FreeRADIUSOptions) *FreeRADIUS {
	t.Helper()
	bin := RequireBinary(t, "/usr/sbin/freeradius", "freeradius")
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	f, err := configureFreeRADIUS(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.t = t
	t.Cleanup(f.Stop)
	if err := f.firstLaunch(); err != nil {
		t.Fatal(err)
	}
	return f
}

// NewFreeRADIUS is StartFreeRADIUS for programs that are not tests (the
// load driver): it installs, configures and starts the server and returns
// once it answers, or an error. Close stops it.
func NewFreeRADIUS(opts FreeRADIUSOptions) (*FreeRADIUS, error) {
	bin, err := LookOrInstall("/usr/sbin/freeradius", "freeradius", stderrf)
	if err != nil {
		return nil, err
	}
	var temp string
	if opts.Dir == "" {
		if temp, err = os.MkdirTemp("", "tollgate-freeradius-"); err != nil {
			return nil, fmt.Errorf("testenv: FreeRADIUS folder: %w", err)
		}
		opts.Dir = temp
	}
	f, err := configureFreeRADIUS(bin, opts)
	if err == nil {
		err = f.firstLaunch()
	}
	if err != nil {
		if temp != "" {
			os.RemoveAll(temp)
		}
		return nil, err
	}
	f.tempDir = temp
	return f, nil
}

// Close stops the server and removes the folder NewFreeRADIUS made for it.
func (f *FreeRADIUS) Close() error {
	f.Stop()
	if f.tempDir == "" {
		return nil
	}
	return os.RemoveAll(f.tempDir)
}

// configureFreeRADIUS picks free ports and writes the configuration tree
// into opts.Dir; the server is not started yet.
func configureFreeRADIUS(bin string, opts FreeRADIUSOptions) (*FreeRADIUS, error) {
	f := &FreeRADIUS{
		Secret:  "tollgate-test-secret",
		ConfDir: filepath.Join(opts.Dir, "raddb"),
		AcctDir: filepath.Join(opts.Dir, "radacct"),
		runDir:  filepath.Join(opts.Dir, "run"),
		bin:     bin,

		noStatusServer: opts.NoStatusServer,
		opts:           opts,
	}
	for _, d := range []string{f.AcctDir, f.runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("testenv: %w", err)
		}
	}
	if err := f.writeConfig(); err != nil {
		return nil, err
	}
	return f, nil
}

// writeConfig picks free ports and writes the configuration tree for them.
func (f *FreeRADIUS) writeConfig() error {
	opts := f.opts
	authPort, err := PickUDPPort()
	if err != nil {
		return err
	}
	acctPort := authPort
	for acctPort == authPort {
		if acctPort, err = PickUDPPort(); err != nil {
			return err
		}
	}
	f.AuthAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(authPort))
	f.AcctAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(acctPort))
	vars := map[string]any{
		"AuthPort": authPort, "AcctPort": acctPort, "Secret": f.Secret,
		"ConfDir": f.ConfDir, "AcctDir": f.AcctDir, "RunDir": f.runDir,
		"RequireMessageAuthenticator": opts.RequireMessageAuthenticator,
		"TLS":                         opts.TLS, "TLSPort": 0, "NoStatusServer": opts.NoStatusServer,
	}
	if opts.TLS != nil {
		port, err := PickTCPPort()
		if err != nil {
			return err
		}
		vars["TLSPort"] = port
		f.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	if err := renderTree(freeradiusConf, "freeradius", f.ConfDir, vars); err != nil {
		return fmt.Errorf("testenv: FreeRADIUS config: %w", err)
	}
	if opts.Users != "" {
		// Written as is, not as a template: users files hold no Go template
		// fields, and the caller's text may contain "{{".
		if err := os.WriteFile(filepath.Join(f.ConfDir, "users"), []byte(opts.Users), 0o600); err != nil {
			return fmt.Errorf("testenv: FreeRADIUS users: %w", err)
		}
	}
	return nil
}

// errPortTaken is a first start that failed because one of the ports
// picked was bound by another socket meanwhile.
var errPortTaken = errors.New("testenv: FreeRADIUS's port was taken")

// firstLaunch is the first Launch, on new ports when another socket took
// one between its pick and the server's bind: a port is free only when it
// is picked, and outgoing sockets of the test process (sipgo's, SIPp's)
// bind ephemeral ports all the time. Later launches (a restart after an
// outage) keep their ports: clients know them.
func (f *FreeRADIUS) firstLaunch() error {
	for attempt := 1; ; attempt++ {
		err := f.Launch()
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return err
		}
		// The next start's log must not show this one's error.
		os.Remove(filepath.Join(f.runDir, "radius.log"))
		if err := f.writeConfig(); err != nil {
			return err
		}
	}
}

func renderTree(src fs.FS, root, dst string, vars map[string]any) error {
	return fs.WalkDir(src, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dst, strings.TrimPrefix(p, root))
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		text, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		tmpl, err := template.New(p).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return err
		}
		w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if err := tmpl.Execute(w, vars); err != nil {
			w.Close()
			return fmt.Errorf("%s: %w", p, err)
		}
		return w.Close()
	})
}

// Start (re)starts the server of a test on its ports, as after an outage,
// and waits until it answers; it fails the test when it cannot.
func (f *FreeRADIUS) Start() {
	if f.t == nil {
		panic("testenv: FreeRADIUS.Start needs a test (StartFreeRADIUS); use Launch")
	}
	f.t.Helper()
	if err := f.Launch(); err != nil {
		f.t.Fatal(err)
	}
}

// Launch is Start returning an error: it (re)starts the server and waits
// until it answers a Status-Server.
func (f *FreeRADIUS) Launch() error {
	if f.cmd != nil {
		return errors.New("testenv: FreeRADIUS already running")
	}
	// -f: foreground; no -X (see FreeRADIUS).
	cmd := exec.Command(f.bin, "-f", "-d", f.ConfDir)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start FreeRADIUS: %w", err)
	}
	f.cmd, f.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(f.exited)

	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-f.exited:
			f.cmd = nil
			if log := f.Log(); strings.Contains(log, "Address already in use") {
				return fmt.Errorf("%w: FreeRADIUS exited at start-up:\n%s", errPortTaken, log)
			}
			return fmt.Errorf("testenv: FreeRADIUS exited at start-up:\n%s", f.Log())
		default:
		}
		if lastErr = f.statusServer(); lastErr == nil {
			return nil
		}
	}
	f.Stop()
	return fmt.Errorf("testenv: FreeRADIUS did not answer Status-Server within 30 s (%v):\n%s", lastErr, f.Log())
}

// Pid is the server's process id (0 when it is not running), for
// measuring its CPU.
func (f *FreeRADIUS) Pid() int {
	if f.cmd == nil {
		return 0
	}
	return f.cmd.Process.Pid
}

// DetailPath is the detail file FreeRADIUS writes accounting to.
func (f *FreeRADIUS) DetailPath() string { return filepath.Join(f.AcctDir, "detail") }

// Stop stops the server (an outage); Start brings it back.
func (f *FreeRADIUS) Stop() {
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.exited:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.exited
	}
	f.cmd = nil
}

// Log returns the server's log file, for failure messages.
func (f *FreeRADIUS) Log() string {
	b, _ := os.ReadFile(filepath.Join(f.runDir, "radius.log"))
	return string(b)
}

// statusServer sends one signed Status-Server (an Access-Request when the
// server has it off) and waits briefly for a reply.
func (f *FreeRADIUS) statusServer() error {
	c, err := net.Dial("udp", f.AuthAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	code := radius.CodeStatusServer
	if f.noStatusServer {
		code = radius.CodeAccessRequest
	}
	p := radius.New(code, []byte(f.Secret))
	// Message-Authenticator first: its value is signed in place at offset
	// 22, right after the header and its own type and length.
	p.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, 16))
	if f.noStatusServer {
		// Any answer will do: the DEFAULT user rejects this one.
		rfc2865.UserName_SetString(p, "testenv-ready")
	}
	rfc2865.NASIdentifier_SetString(p, "testenv")
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	mac := hmac.New(md5.New, []byte(f.Secret))
	mac.Write(b)
	mac.Sum(b[22:22])
	if _, err := c.Write(b); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	reply := make([]byte, 4096)
	n, err := c.Read(reply)
	if err != nil {
		return err
	}
	if !radius.IsAuthenticResponse(reply[:n], b, []byte(f.Secret)) {
		return errors.New("testenv: Status-Server reply not authentic")
	}
	return nil
}

// DetailRecord is one accounting packet as FreeRADIUS's detail module
// wrote it: attribute name → values in order, strings unquoted.
type DetailRecord struct {
	Header string // the time line
	Attrs  map[string][]string
}

// Get returns the first value of attr, or "".
func (r DetailRecord) Get(attr string) string {
	if v := r.Attrs[attr]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Detail reads back every complete record of the detail file (none when
// the server has not written it yet).
func (f *FreeRADIUS) Detail() ([]DetailRecord, error) {
	fh, err := os.Open(f.DetailPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ParseDetail(fh)
}

// WaitDetail waits until the detail file holds at least n records and
// returns them.
func (f *FreeRADIUS) WaitDetail(ctx context.Context, n int) ([]DetailRecord, error) {
	for {
		recs, err := f.Detail()
		if err != nil {
			return nil, err
		}
		if len(recs) >= n {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return recs, fmt.Errorf("testenv: %d detail records, want %d: %w", len(recs), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ParseDetail parses FreeRADIUS detail text: a header line, then
// tab-indented "Name = value" lines, then a blank line. A record not yet
// ended by its blank line is left out (the server may be writing it).
func ParseDetail(r io.Reader) ([]DetailRecord, error) {
	var (
		out []DetailRecord
		cur *DetailRecord
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		case line[0] != '\t':
			cur = &DetailRecord{Header: line, Attrs: map[string][]string{}}
		default:
			if cur == nil {
				return out, fmt.Errorf("testenv: detail attribute outside a record: %q", line)
			}
			name, value, ok := strings.Cut(strings.TrimPrefix(line, "\t"), " = ")
			if !ok {
				return out, fmt.Errorf("testenv: bad detail line %q", line)
			}
			v, err := unquoteDetail(value)
			if err != nil {
				return out, fmt.Errorf("testenv: detail %s: %w", name, err)
			}
			cur.Attrs[name] = append(cur.Attrs[name], v)
		}
	}
	return out, sc.Err()
}

// unquoteDetail undoes FreeRADIUS's string escaping: \" \\ \n \r \t and
// three-digit octal escapes. Unquoted values (integers, enums) pass as is.
func unquoteDetail(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s, nil
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("trailing backslash")
		}
		switch c := s[i]; {
		case c == 'n':
			b.WriteByte('\n')
		case c == 'r':
			b.WriteByte('\r')
		case c == 't':
			b.WriteByte('\t')
		case c >= '0' && c <= '7':
			if i+3 > len(s) {
				return "", errors.New("short octal escape")
			}
			n, err := strconv.ParseUint(s[i:i+3], 8, 8)
			if err != nil {
				return "", fmt.Errorf("octal escape: %w", err)
			}
			b.WriteByte(byte(n))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// stderrf says what a program without a test is doing, on standard error.
func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
