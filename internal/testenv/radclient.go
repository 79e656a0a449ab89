package testenv

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// Radclient sends one request with FreeRADIUS's own radclient (installing
// Debian's freeradius-utils when missing): kind is radclient's packet type
// (auth, acct, status, disconnect, coa), attrs its "Name = value" lines.
// It tries once, waiting up to a second, and returns radclient's output
// with the code of the reply it printed ("" when none came).
func Radclient(t testing.TB, addr, kind, secret, attrs string) (reply, output string) {
	t.Helper()
	bin := RequireBinary(t, "/usr/bin/radclient", "freeradius-utils")
	cmd := exec.Command(bin, "-x", "-r", "1", "-t", "1", addr, kind, secret)
	cmd.Stdin = strings.NewReader(attrs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// radclient exits non-zero on a NAK or no reply: the output says which.
	_ = cmd.Run()
	for line := range strings.Lines(out.String()) {
		if rest, ok := strings.CutPrefix(line, "Received "); ok {
			reply, _, _ = strings.Cut(rest, " ")
		}
	}
	return reply, out.String()
}
