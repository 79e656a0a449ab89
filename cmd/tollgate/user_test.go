package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testenv"
)

// tollgateCmd runs the tollgate binary with env added and returns its exit
// code, standard output and standard error.
func tollgateCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestUserAddAndMigrateSayWhatHappened: the hint to migrate comes only when
// the schema is missing, and migrate tells a new schema from an up-to-date
// one (it said "up to date" right after creating it).
func TestUserAddAndMigrateSayWhatHappened(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	cfg := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(cfg, []byte("cdr:\n  dir: "+filepath.Join(filepath.Dir(cfg), "cdr")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"TOLLGATE_CDR_DATABASE=" + dsn}
	add := []string{"user", "add", "-c", cfg, "--name", "admin", "--role", "admin"}

	code, _, stderr := tollgateCmd(t, env, add...)
	if code != 1 || !strings.Contains(stderr, "tollgate migrate") {
		t.Fatalf("user add before the schema: exit %d: %s", code, stderr)
	}
	if code, out, stderr := tollgateCmd(t, env, "migrate", "-c", cfg); code != 0 || !strings.Contains(out, "database schema created") {
		t.Fatalf("first migrate: exit %d: %s%s", code, out, stderr)
	}
	if code, out, stderr := tollgateCmd(t, env, "migrate", "-c", cfg); code != 0 || !strings.Contains(out, "database schema is up to date") {
		t.Fatalf("second migrate: exit %d: %s%s", code, out, stderr)
	}
	if code, out, stderr := tollgateCmd(t, env, add...); code != 0 || !strings.Contains(out, "user admin (admin) added; password: ") {
		t.Fatalf("user add: exit %d: %s%s", code, out, stderr)
	}
	code, _, stderr = tollgateCmd(t, env, add...)
	if code != 1 || !strings.Contains(stderr, "a user of that name exists") || strings.Contains(stderr, "migrate") {
		t.Fatalf("user add of a taken name: exit %d: %s", code, stderr)
	}
}

// TestPeerUser: only root, only over a Unix socket, and only to a system
// user named like the role.
func TestPeerUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("peerUser only acts as root")
	}
	for dsn, want := range map[string]string{
		"postgres://nobody:pw@127.0.0.1:5432/tollgate":                  "",
		"postgres://nobody:pw@:5432/tollgate?host=/var/run/postgresql":  "nobody",
		"postgres://root:pw@:5432/tollgate?host=/var/run/postgresql":    "",
		"postgres://no_such_user_here@:5432/x?host=/var/run/postgresql": "",
	} {
		got := ""
		if u := peerUser(dsn); u != nil {
			got = u.Username
		}
		if got != want {
			t.Errorf("%s: %q, want %q", dsn, got, want)
		}
	}
}

// TestUserCommands: list, passwd, role, disable, enable and delete, by
// name, with the last-admin rule, and names shown safely.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	cfg := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(cfg, []byte("cdr:\n  dir: "+filepath.Join(filepath.Dir(cfg), "cdr")+"\n  database: "+dsn+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(want string, args ...string) string {
		t.Helper()
		code, out, stderr := tollgateCmd(t, nil, append([]string{"user", args[0], "-c", cfg}, args[1:]...)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("user %v: exit %d, want %q: %s%s", args, code, want, out, stderr)
		}
		return out
	}
	if code, out, stderr := tollgateCmd(t, nil, "migrate", "-c", cfg); code != 0 {
		t.Fatalf("migrate: %s%s", out, stderr)
	}
	ok("user admin (admin) added; password: ", "add", "--name", "admin", "--role", "admin")
	ok("user bob (viewer) added", "add", "--name", "bob", "--role", "viewer")
	ok("user bob is now operator", "role", "--name", "bob", "--role", "operator")
	ok("password of bob set; its sessions end; password: ", "passwd", "--name", "bob")
	ok("API tokens are kept", "disable", "--name", "bob")
	if out := ok("NAME", "list"); !regexp.MustCompile(`bob\s+operator\s+disabled\s+never`).MatchString(out) {
		t.Fatalf("list:\n%s", out)
	}
	ok("user bob enabled", "enable", "--name", "bob")
	ok("user bob and its API tokens deleted", "delete", "--name", "bob")
	for _, args := range [][]string{{"delete", "--name", "admin"}, {"role", "--name", "admin", "--role", "viewer"}, {"disable", "--name", "admin"}} {
		code, _, stderr := tollgateCmd(t, nil, append([]string{"user", args[0], "-c", cfg}, args[1:]...)...)
		if code != 1 || !strings.Contains(stderr, "last enabled admin") {
			t.Errorf("user %v on the last admin: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := tollgateCmd(t, nil, "user", "delete", "-c", cfg, "--name", "nobody"); code != 1 || !strings.Contains(stderr, `no user "nobody"`) {
		t.Errorf("delete nobody: exit %d: %s", code, stderr)
	}
	if got := terminalSafe("evil\x1b[2J"); got != `"evil\x1b[2J"` {
		t.Errorf("terminalSafe = %s", got)
	}
	if rows := query(t, dsn, "SELECT action FROM audit_log WHERE actor = 'command line' ORDER BY id"); len(rows) != 5 {
		t.Errorf("audit log of the command line: %v", rows)
	}
}
