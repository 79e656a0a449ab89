package b2bua

import (
	"os"
	"strings"
	"testing"
)

// TestSipgoVersion: the workarounds in sipgo.go were checked against
// sipgoVersion; another version in go.mod must be checked before they are
// kept.
func TestSipgoVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/emiago/sipgo" {
			if f[1] != sipgoVersion {
				t.Fatalf("go.mod has sipgo %s, sipgo.go's workarounds were checked against %s: check each, then update sipgoVersion", f[1], sipgoVersion)
			}
			return
		}
	}
	t.Fatal("go.mod does not require sipgo")
}
