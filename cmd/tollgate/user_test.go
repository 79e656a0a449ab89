package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
