package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestSubscribersRegister: "tollgate subscriber add" puts an account of
// the local registrar in the database; the running switch takes it
// within a second: a SIPp phone registers with its digest, and one with a
// wrong password is refused. "list" shows it, without its secret, and
// after "delete" it registers no more.
func TestSubscribersRegister(t *testing.T) {
	dsn := testenv.SharedPostgres(t).NewDatabase(t)
	p := startTollgate(t, `registration:
  mode: local
  realm: tollgate.test
cdr:
  migrate: true
`, "TOLLGATE_CDR_DATABASE="+dsn)
	env := []string{"TOLLGATE_CDR_DATABASE=" + dsn}
	subscriber := func(stdin string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"subscriber"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	if code, out := subscriber("dave-digest-secret\n", "add", "-c", p.cfg, "--user", "dave", "--password-stdin"); code != 0 ||
		!strings.Contains(out, "subscriber dave added in realm tollgate.test") || strings.Contains(out, "dave-digest-secret") {
		t.Fatalf("subscriber add: %d %s", code, out)
	}
	if code, out := subscriber("", "add", "-c", p.cfg, "--user", "erin"); code != 0 || !strings.Contains(out, "; password: ") {
		t.Fatalf("subscriber add with a generated password: %d %s", code, out)
	}
	if code, out := subscriber("x\n", "add", "-c", p.cfg, "--user", "dave", "--password-stdin"); code != 1 || !strings.Contains(out, "exists") {
		t.Fatalf("subscriber added twice: %d %s", code, out)
	}
	if code, out := subscriber("", "list", "-c", p.cfg); code != 0 || !strings.Contains(out, "dave") || !strings.Contains(out, "erin") ||
		strings.Contains(out, "secret") {
		t.Fatalf("subscriber list: %d %s", code, out)
	}

	register := func(scenario, password string) {
		t.Helper()
		var st testenv.SIPpStats
		testenv.Eventually(t, 10*time.Second, "dave's REGISTER to end in "+scenario, func() bool {
			c := testenv.StartSIPp(t, testenv.SIPpOptions{Scenario: scenario, Remote: p.addr(), Service: "dave",
				Calls: 1, Pause: 100 * time.Millisecond, Timeout: 10 * time.Second, Extra: []string{"-au", "dave", "-ap", password}})
			st, _ = c.Wait(t.Context())
			return st.Successful == 1
		})
	}
	register("reg_auth_client.xml", "dave-digest-secret")
	register("reg_auth_refused.xml", "wrong")
	if code, out := subscriber("", "delete", "-c", p.cfg, "--user", "dave"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("subscriber delete: %d %s", code, out)
	}
	register("reg_auth_refused.xml", "dave-digest-secret")
}
