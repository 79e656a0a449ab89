// Package archtest holds tests of the shape of the module: which package may
// depend on which, read from `go list`, so that a dependency pointing the
// wrong way fails a test instead of waiting for a reviewer to spot it.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tollgate/tollgate/"

// mayNotDepend lists, for a package, the packages (or folders of packages,
// ending in "/") it may not depend on, even indirectly, and why.
var mayNotDepend = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{"aaa", []string{"switch/"}, "the switch declares what it needs from aaa; aaa knows nothing of calls"},
	{"subscriber", []string{"switch/", "web"}, "the registrar's accounts are a table; cmd hands them to the switch"},
	{"billing", []string{"switch/"}, "limits and credit serve the switch, not the other way round"},
	{"cdr", []string{"switch/"}, "the record belongs to cdr; the switch hands records in"},
	{"rtpproxyctl", []string{"switch/"}, "media anchoring serves the switch through the interface the switch declares"},
	{"rtpproxyctl/relay", []string{"switch/"}, "`tollgate relay` runs the relay without the switch"},
	{"switch/b2bua", []string{"rtpproxyctl/relay"}, "cmd/tollgate builds the relays; the switch only sees its MediaRelays interface"},
	{"cmd/tollgate/relaycmd", []string{"switch/", "config"}, "`tollgate relay` runs the relay alone: nothing of the switch, nor the configuration package that compiles the switch's call profiles"},
}

// deps maps every package of the module to its transitive dependencies.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func TestDependenciesPointDown(t *testing.T) {
	t.Parallel()
	all := deps(t)
	for _, r := range mayNotDepend {
		ds, ok := all[module+r.pkg]
		if !ok {
			t.Errorf("package %s not found", r.pkg)
			continue
		}
		for _, d := range ds {
			rel, ok := strings.CutPrefix(d, module)
			if !ok {
				continue
			}
			for _, f := range r.forbidden {
				if rel == strings.TrimSuffix(f, "/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(rel, f)) {
					t.Errorf("%s depends on %s: %s", r.pkg, rel, r.why)
				}
			}
		}
	}
}
