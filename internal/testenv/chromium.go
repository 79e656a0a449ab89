package testenv

import "testing"

// Chromium returns the path of Debian's headless-capable browser, installing
// the package chromium when it is missing: the web UI's end-to-end tests drive
// a real browser, never a stand-in.
func Chromium(t testing.TB) string {
	t.Helper()
	return RequireBinary(t, "chromium", "chromium")
}
