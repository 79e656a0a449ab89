// Package packaging holds only tests: the .deb and .rpm that `make package`
// builds are checked for contents and metadata, linted, and the .deb is
// installed on this machine, run, upgraded, removed and purged, leaving the
// machine as it was found.
package packaging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/internal/testenv"
)

// The versions built for the test carry a marker: a package left installed
// by a killed run is recognised as the test's own and purged by the next.
const (
	versionOld  = "0.0.1~pkgtest"
	versionNew  = "0.0.2~pkgtest"
	testMarker  = "~pkgtest"
	confPath    = "/etc/tollgate/tollgate.yaml"
	envPath     = "/etc/tollgate/tollgate.env"
	unitPath    = "/lib/systemd/system/tollgate.service"
	stateDir    = "/var/lib/tollgate"
	wantsLink   = "/etc/systemd/system/multi-user.target.wants/tollgate.service"
	maskLink    = "/etc/systemd/system/tollgate.service"
	lockPath    = "/run/lock/tollgate-package-test.lock"
	dataMarker  = stateDir + "/cdr/kept-by-the-package-test"
	upgradeNote = "\n# edited by the package test: upgrades must keep this line\n"
)

// installEnv opts a run outside CI into the half of TestPackages that
// installs the .deb on this machine.
const installEnv = "TOLLGATE_TEST_INSTALL"

// mayInstall reports whether this run may change the machine it runs on:
// in CI (CI=true, as CI services set it) or on a developer's explicit
// opt-in, never as a side effect of `make test` on a workstation.
func mayInstall() bool {
	return os.Getenv("CI") == "true" || os.Getenv(installEnv) == "1"
}

func TestPackages(t *testing.T) {
	for _, b := range [][2]string{{"dpkg-deb", "dpkg"}, {"rpm", "rpm"}, {"lintian", "lintian"}, {"runuser", "util-linux"}, {"make", "make"}} {
		testenv.RequireBinary(t, b[0], b[1])
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	oldDeb, oldRPM := build(t, root, filepath.Join(dir, "old"), versionOld)
	newDeb, _ := build(t, root, filepath.Join(dir, "new"), versionNew)

	t.Run("deb metadata", func(t *testing.T) { checkDebMetadata(t, oldDeb) })
	t.Run("rpm metadata", func(t *testing.T) { checkRPMMetadata(t, oldRPM) })
	t.Run("lintian", func(t *testing.T) { checkLintian(t, oldDeb) })
	if t.Failed() {
		return
	}

	// From here on the machine itself changes: only where that is wanted,
	// one run at a time, and a purge at the end whatever happens.
	if !mayInstall() {
		t.Skipf("installing the .deb changes this machine: it runs in CI (CI=true) or with %s=1", installEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the package test installs a .deb: run it as root")
	}
	lockMachine(t)
	requirePristine(t)
	t.Cleanup(func() {
		if out, err := dpkg("--purge", "tollgate"); err != nil {
			t.Errorf("cleanup: dpkg --purge tollgate: %v\n%s", err, out)
		}
	})

	start := time.Now()
	mustDpkg(t, "-i", oldDeb)
	t.Logf("dpkg -i %s: %v", filepath.Base(oldDeb), time.Since(start).Round(time.Millisecond))
	if !t.Run("installed", checkInstalled) {
		return
	}
	t.Run("systemd-analyze verify", checkUnit)
	t.Run("serve as the tollgate user", checkServe)
	t.Run("setup-db", checkSetupDB)

	// Upgrade with an edited configuration and data in the state directory.
	appendFile(t, confPath, upgradeNote)
	if err := os.WriteFile(dataMarker, []byte("data\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	mustDpkg(t, "-i", newDeb)
	t.Run("upgraded", func(t *testing.T) {
		checkVersion(t, versionNew)
		if b, err := os.ReadFile(confPath); err != nil || !strings.Contains(string(b), upgradeNote) {
			t.Errorf("upgrade lost the edited %s (%v)", confPath, err)
		}
		checkMode(t, confPath, 0o640, "root", "tollgate")
		mustExist(t, dataMarker, envPath)
		if out := run(t, "/usr/bin/tollgate", "check-config", "-c", confPath); !strings.Contains(out, "OK") {
			t.Errorf("check-config after upgrade: %s", out)
		}
	})

	mustDpkg(t, "-r", "tollgate")
	t.Run("removed", func(t *testing.T) {
		mustNotExist(t, "/usr/bin/tollgate", unitPath)
		mustExist(t, confPath, dataMarker, envPath)
		if _, err := user.Lookup("tollgate"); err != nil {
			t.Errorf("remove deleted the tollgate user: %v", err)
		}
		if st := status(t); !strings.HasPrefix(st, "deinstall ok config-files") {
			t.Errorf("status after remove: %q", st)
		}
	})

	mustDpkg(t, "--purge", "tollgate")
	t.Run("purged", func(t *testing.T) {
		mustNotExist(t, stateDir, "/etc/tollgate", wantsLink, maskLink,
			"/var/lib/systemd/deb-systemd-helper-enabled/tollgate.service",
			"/var/lib/systemd/deb-systemd-helper-masked/tollgate.service")
		if _, err := user.Lookup("tollgate"); err == nil {
			t.Error("purge left the tollgate user")
		}
		if _, err := user.LookupGroup("tollgate"); err == nil {
			t.Error("purge left the tollgate group")
		}
		if st := status(t); st != "" {
			t.Errorf("status after purge: %q", st)
		}
	})
	t.Logf("install, checks, upgrade, remove, purge: %v", time.Since(start).Round(time.Millisecond))
}

// build runs `make package` into dir and returns the .deb and .rpm.
func build(t *testing.T, root, dir, version string) (string, string) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", root, "package",
		"PACKAGE_DIR="+dir, "PACKAGE_VERSION="+version, "PACKAGE_ARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package %s: %v\n%s", version, err, out)
	}
	t.Logf("make package %s: %v", version, time.Since(start).Round(time.Millisecond))
	deb := filepath.Join(dir, "tollgate_"+version+"_amd64.deb")
	rpm := filepath.Join(dir, "tollgate-"+version+".x86_64.rpm")
	mustExist(t, deb, rpm)
	return deb, rpm
}

func checkDebMetadata(t *testing.T, deb string) {
	info := run(t, "dpkg-deb", "-I", deb)
	for _, want := range []string{
		"Package: tollgate", "Version: " + versionOld, "Architecture: amd64",
		"Depends: passwd, procps", "Recommends: postgresql", "Section: net",
		"conffiles", "postinst", "prerm", "postrm",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I: no %q in\n%s", want, info)
		}
	}
	if conf := run(t, "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(conf) != confPath {
		t.Errorf("conffiles = %q, want %s alone", conf, confPath)
	}
	modes := map[string]string{}
	for _, line := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
		if f := strings.Fields(line); len(f) == 6 {
			modes[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
	}
	for path, want := range map[string]string{
		"/usr/bin/tollgate":                        "-rwxr-xr-x root/root",
		confPath:                                   "-rw-r--r-- root/root",
		unitPath:                                   "-rw-r--r-- root/root",
		"/usr/share/man/man1/tollgate.1.gz":        "-rw-r--r-- root/root",
		"/usr/share/doc/tollgate/copyright":        "-rw-r--r-- root/root",
		"/usr/share/doc/tollgate/changelog.gz":     "-rw-r--r-- root/root",
		"/usr/share/doc/tollgate/install.md":       "-rw-r--r-- root/root",
		"/usr/share/lintian/overrides/tollgate":    "-rw-r--r-- root/root",
		"/usr/lib/sysctl.d/60-tollgate.conf":       "-rw-r--r-- root/root",
		"/usr/lib/systemd/system/tollgate.service": "",
		"/var/lib/tollgate/":                       "",
	} {
		if got := modes[path]; got != want {
			t.Errorf("dpkg-deb -c: %s is %q, want %q", path, got, want)
		}
	}
}

func checkRPMMetadata(t *testing.T, rpm string) {
	info := run(t, "rpm", "-qpi", rpm)
	for _, want := range []string{"Name        : tollgate", "Version     : " + versionOld, "Architecture: x86_64", "License     :"} {
		if !strings.Contains(info, want) {
			t.Errorf("rpm -qpi: no %q in\n%s", want, info)
		}
	}
	list := run(t, "rpm", "-qpl", rpm)
	// Mode, owner, group and flags of every file: c is %config, n noreplace.
	files := map[string]string{}
	for _, line := range strings.Split(run(t, "rpm", "-qp", "--qf",
		`[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`, rpm), "\n") {
		if name, rest, ok := strings.Cut(line, " "); ok {
			files[name] = strings.TrimSpace(rest)
		}
	}
	for path, want := range map[string]string{
		"/usr/bin/tollgate": "-rwxr-xr-x root root",
		confPath:            "-rw-r----- root tollgate cn",
		"/usr/lib/systemd/system/tollgate.service": "-rw-r--r-- root root",
		"/usr/share/man/man1/tollgate.1.gz":        "-rw-r--r-- root root",
		"/usr/lib/sysctl.d/60-tollgate.conf":       "-rw-r--r-- root root",
		"/var/lib/tollgate":                        "drwxr-x--- tollgate tollgate",
		"/var/lib/tollgate/cdr":                    "drwxr-x--- tollgate tollgate",
		"/etc/tollgate":                            "drwxr-x--- root tollgate",
	} {
		if files[path] != want {
			t.Errorf("rpm: %s is %q, want %q (rpm -qpl:\n%s)", path, files[path], want, list)
		}
	}
	if got := run(t, "rpm", "-qpc", rpm); strings.TrimSpace(got) != confPath {
		t.Errorf("rpm -qpc = %q, want %s alone", got, confPath)
	}
	if req := run(t, "rpm", "-qpR", rpm); !strings.Contains(req, "shadow-utils") || !strings.Contains(req, "procps-ng") {
		t.Errorf("rpm -qpR: no shadow-utils or procps-ng in\n%s", req)
	}
	if rec := run(t, "rpm", "-qp", "--recommends", rpm); !strings.Contains(rec, "postgresql-server") {
		t.Errorf("rpm --recommends: no postgresql-server in\n%s", rec)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	for _, want := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "useradd --system"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm --scripts: no %q", want)
		}
	}
}

// checkLintian wants no error and no warning; the overrides the package
// ships are justified in it and in docs/install.md.
func checkLintian(t *testing.T, deb string) {
	start := time.Now()
	out, err := exec.Command("lintian", "--fail-on", "error,warning", deb).CombinedOutput()
	t.Logf("lintian: %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "W:") {
			t.Errorf("lintian: %s", line)
		}
	}
}

func checkInstalled(t *testing.T) {
	checkVersion(t, versionOld)
	checkMode(t, "/usr/bin/tollgate", 0o755, "root", "root")
	checkMode(t, confPath, 0o640, "root", "tollgate")
	checkMode(t, unitPath, 0o644, "root", "root")
	checkMode(t, "/usr/share/man/man1/tollgate.1.gz", 0o644, "root", "root")
	checkMode(t, stateDir, 0o750|os.ModeDir, "tollgate", "tollgate")
	checkMode(t, stateDir+"/cdr", 0o750|os.ModeDir, "tollgate", "tollgate")
	u, err := user.Lookup("tollgate")
	if err != nil {
		t.Fatalf("no tollgate user: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid >= 1000 || uid == 0 {
		t.Errorf("tollgate has uid %d, want a system uid", uid)
	}
	if u.HomeDir != stateDir {
		t.Errorf("tollgate's home is %s, want %s", u.HomeDir, stateDir)
	}
	if pw := run(t, "getent", "passwd", "tollgate"); !strings.HasSuffix(strings.TrimSpace(pw), ":/usr/sbin/nologin") {
		t.Errorf("tollgate can log in: %s", pw)
	}
	if g, err := user.LookupGroup("tollgate"); err != nil || g.Gid != u.Gid {
		t.Errorf("tollgate's group: %v %v", g, err)
	}
	// The service's user must be able to read the default configuration,
	// and the default configuration must be valid.
	if out := run(t, "runuser", "-u", "tollgate", "--", "/usr/bin/tollgate", "check-config", "-c", confPath); !strings.Contains(out, confPath+": OK") {
		t.Errorf("check-config: %s", out)
	}
	if out := run(t, "/usr/bin/tollgate", "--help"); !strings.Contains(out, "setup-db") {
		t.Errorf("--help does not mention setup-db:\n%s", out)
	}
	// Enabled, though no systemd runs here to start it.
	if target, err := os.Readlink(wantsLink); err != nil || target != unitPath {
		t.Errorf("%s -> %q (%v), want the enabled unit", wantsLink, target, err)
	}
}

// checkUnit parses the installed unit with systemd's own verifier, present
// wherever the systemd package is (it needs no running systemd).
func checkUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed here: the unit was checked by the package checks only")
		return
	}
	man := "--man=no"
	if _, err := exec.LookPath("man"); err == nil {
		man = "--man=yes" // the unit's Documentation=man:tollgate(1) must resolve
	}
	out, err := exec.Command(analyze, "verify", man, unitPath).CombinedOutput()
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		// Other units on the machine may draw warnings of their own.
		if strings.Contains(line, "tollgate") {
			ours = append(ours, line)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, strings.Join(ours, "\n"))
	}
	t.Logf("systemd-analyze verify %s %s: clean", man, unitPath)
}

// checkServe runs the installed binary as the tollgate user, as the unit
// does, on the default configuration moved to a free loopback port: it must
// start, write its state under /var/lib/tollgate and stop cleanly on SIGTERM.
func checkServe(t *testing.T) {
	u, err := user.Lookup("tollgate")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	b, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(testenv.FreePort(t))
	conf := strings.ReplaceAll(string(b), "0.0.0.0:5060", "127.0.0.1:"+port)
	if conf == string(b) {
		t.Fatalf("%s does not listen on 0.0.0.0:5060", confPath)
	}
	// The web UI's default port may be taken on a test machine.
	conf += fmt.Sprintf("\nweb:\n  listen: 127.0.0.1:%d\n", testenv.FreeTCPPort(t))
	// Not t.TempDir: its parent is root's alone, and tollgate must read it.
	dir, err := os.MkdirTemp("", "tollgate-pkgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("/usr/bin/tollgate", "serve", "-c", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Dir = "/"
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	var log []string
	// waitFor waits until every one of what has been logged, in any order.
	waitFor := func(what ...string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for len(what) > 0 {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("tollgate serve exited before logging %q:\n%s", what, strings.Join(log, "\n"))
				}
				log = append(log, l)
				what = slices.DeleteFunc(what, func(w string) bool { return strings.Contains(l, w) })
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("no %q from tollgate serve within 60s:\n%s", what, strings.Join(log, "\n"))
			}
		}
	}
	waitFor("SIP listening", "web UI listening")
	// An answered OPTIONS shows the switch serving SIP as tollgate. It also
	// gives serve time to install its signal handlers, which it does only
	// after both listeners have started (SIGTERM before that kills it).
	if reply := sipOptions(t, port); !strings.HasPrefix(reply, "SIP/2.0 ") {
		t.Errorf("OPTIONS got %q", reply)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor("stopped")
	for range lines {
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("tollgate serve: %v\n%s", err, strings.Join(log, "\n"))
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tollgate serve did not exit within 60s of SIGTERM")
	}
	for _, d := range []string{"spool", "journal", "csv"} {
		checkOwner(t, filepath.Join(stateDir, "cdr", d), "tollgate")
	}
}

// sipOptions sends one OPTIONS to 127.0.0.1:port over UDP and returns the
// status line of the answer.
func sipOptions(t *testing.T, port string) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp4", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().String()
	msg := "OPTIONS sip:ping@127.0.0.1:" + port + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-pkgtest-1;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:pkgtest@" + local + ">;tag=pkgtest\r\n" +
		"To: <sip:ping@127.0.0.1:" + port + ">\r\n" +
		"Call-ID: pkgtest-options@127.0.0.1\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n"
	buf := make([]byte, 4096)
	// UDP: resend until answered, as a SIP client does (timer E).
	for range 20 {
		if _, err := conn.WriteTo([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err == nil {
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			return line
		}
	}
	t.Fatal("no answer to OPTIONS within 20s")
	return ""
}

// checkSetupDB runs `tollgate setup-db` against a real PostgreSQL twice:
// the second run must change nothing.
func checkSetupDB(t *testing.T) {
	pg := testenv.StartPostgres(t)
	args := []string{"setup-db", "--host", "127.0.0.1", "--port", strconv.Itoa(pg.Port())}
	first := run(t, "/usr/bin/tollgate", args...)
	for _, want := range []string{"role tollgate: created", "database tollgate: created", envPath + ": TOLLGATE_CDR_DATABASE written", "database schema created"} {
		if !strings.Contains(first, want) {
			t.Errorf("setup-db: no %q in\n%s", want, first)
		}
	}
	checkMode(t, envPath, 0o640, "root", "tollgate")
	env1, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	dsn, ok := strings.CutPrefix(strings.TrimSpace(string(env1)), "TOLLGATE_CDR_DATABASE=")
	if !ok || !strings.Contains(dsn, fmt.Sprintf("@127.0.0.1:%d/tollgate", pg.Port())) {
		t.Fatalf("%s holds %q", envPath, env1)
	}

	second := run(t, "/usr/bin/tollgate", args...)
	for _, want := range []string{"role tollgate: exists", "database tollgate: exists", "TOLLGATE_CDR_DATABASE kept", "schema is up to date"} {
		if !strings.Contains(second, want) {
			t.Errorf("setup-db again: no %q in\n%s", want, second)
		}
	}
	if env2, _ := os.ReadFile(envPath); string(env2) != string(env1) {
		t.Errorf("setup-db again changed %s:\n%s\nthen\n%s", envPath, env1, env2)
	}

	// The schema belongs to the service's role, reached with the written
	// connection string.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting with the written connection string: %v", err)
	}
	defer conn.Close(ctx)
	var owner string
	if err := conn.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'cdrs'").Scan(&owner); err != nil {
		t.Fatalf("table cdrs: %v", err)
	}
	if owner != "tollgate" {
		t.Errorf("cdrs belongs to %q, want tollgate", owner)
	}

	// The first admin, with docs/install.md's command exactly as written,
	// run as root as an administrator would.
	if out := run(t, "sh", "-c", firstAdminCommand(t)); !strings.Contains(out, "user admin (admin) added; password: ") {
		t.Errorf("docs/install.md's first-admin command: %s", out)
	}
}

// firstAdminCommand is the line of docs/install.md that creates the first
// admin.
func firstAdminCommand(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.Contains(l, "tollgate user add") && strings.HasPrefix(l, "sh -c ") {
			return l
		}
	}
	t.Fatal("docs/install.md: no `sh -c '... tollgate user add ...'` line")
	return ""
}

// lockMachine keeps two runs of this test (two checkouts, two `make test`)
// from installing at once. The lock dies with the process.
func lockMachine(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	testenv.Eventually(t, 5*time.Minute, "the lock "+lockPath+" (another package test running?)", func() bool {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		return !errors.Is(err, syscall.EWOULDBLOCK)
	})
	if err != nil {
		t.Fatalf("lock %s: %v", lockPath, err)
	}
}

// requirePristine refuses to run on a machine where tollgate is installed
// for real, or where a tollgate user or state directory exists without the
// package: purging would delete them. A package the test itself left
// behind (a killed run) is purged first.
func requirePristine(t *testing.T) {
	t.Helper()
	if st := status(t); st != "" {
		v := strings.TrimSpace(run(t, "dpkg-query", "-W", "-f", "${Version}", "tollgate"))
		if !strings.Contains(v, testMarker) {
			t.Fatalf("tollgate %s is installed on this machine (%s): the package test will not replace it", v, st)
		}
		t.Logf("purging tollgate %s left by an earlier run of this test", v)
		mustDpkg(t, "--purge", "tollgate")
	}
	if _, err := user.Lookup("tollgate"); err == nil {
		t.Fatal("a tollgate user exists without the package: the test's purge would delete it")
	}
	if _, err := os.Stat(stateDir); err == nil {
		t.Fatalf("%s exists without the package: the test's purge would delete it", stateDir)
	}
}

// status is dpkg's status of tollgate, "" when dpkg does not know it.
func status(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "tollgate").Output()
	if err != nil {
		return ""
	}
	st := strings.TrimSpace(string(out))
	if st == "unknown ok not-installed" {
		return ""
	}
	return st
}

func checkVersion(t *testing.T, want string) {
	t.Helper()
	if v := strings.TrimSpace(run(t, "dpkg-query", "-W", "-f", "${Version}", "tollgate")); v != want {
		t.Errorf("dpkg says tollgate %s, want %s", v, want)
	}
	if v := strings.TrimSpace(run(t, "/usr/bin/tollgate", "version")); v != "tollgate "+want {
		t.Errorf("tollgate version: %q, want %s", v, want)
	}
}

// dpkg runs dpkg, waiting while another package manager holds its lock.
// Each try runs dpkg itself, so it retries once a second rather than
// polling at testenv.Eventually's pace.
func dpkg(args ...string) ([]byte, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(time.Second)
	}
}

func mustDpkg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := dpkg(args...); err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func checkMode(t *testing.T, path string, mode os.FileMode, owner, group string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if st.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", path, st.Mode(), mode)
	}
	sys := st.Sys().(*syscall.Stat_t)
	u, _ := user.LookupId(strconv.Itoa(int(sys.Uid)))
	g, _ := user.LookupGroupId(strconv.Itoa(int(sys.Gid)))
	if u == nil || g == nil || u.Username != owner || g.Name != group {
		t.Errorf("%s: owned by %d:%d, want %s:%s", path, sys.Uid, sys.Gid, owner, group)
	}
}

func checkOwner(t *testing.T, path, owner string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	u, _ := user.LookupId(strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)))
	if u == nil || u.Username != owner {
		t.Errorf("%s is not owned by %s", path, owner)
	}
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
