package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// profileCommand runs "tollgate profile test": it shows which call profile
// an INVITE read from a file would get and the INVITE the gateway would
// receive, so an operator can try a profile without placing calls.
func profileCommand(args []string, stdout, stderr io.Writer) int {
	const usage = "usage: tollgate profile test -c FILE --invite FILE.sip [--source IP:PORT]"
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("profile test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	invite := fs.String("invite", "", "file holding the caller's INVITE")
	source := fs.String("source", "127.0.0.1:5060", "address the INVITE is taken to come from ($si, $sp)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *invite == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	raw, err := os.ReadFile(*invite)
	if err != nil {
		fmt.Fprintln(stderr, "tollgate profile test:", err)
		return 1
	}
	msg, err := sip.ParseMessage(normalizeSIP(raw))
	if err != nil {
		fmt.Fprintf(stderr, "tollgate profile test: %s: %v\n", *invite, err)
		return 1
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		fmt.Fprintf(stderr, "tollgate profile test: %s holds a response, not an INVITE\n", *invite)
		return 1
	}
	req.SetSource(*source)
	pv, err := b2bua.PreviewInvite(cfg, req)
	if pv != nil {
		name := pv.Profile
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintln(stdout, "profile:", name)
		if p, ok := cfg.Profile(pv.Profile); ok {
			fmt.Fprintf(stdout, "checksum: %s (%s)\n", p.Checksum, p.Origin)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "tollgate profile test:", err)
		return 1
	}
	if pv.Refusal != nil {
		fmt.Fprintf(stdout, "refused: %d %s\n", pv.Refusal.Code, pv.Refusal.Reason)
		return 0
	}
	fmt.Fprintf(stdout, "to: %s (%s)\n\n%s", pv.Invite.Destination(), pv.Invite.Transport(), pv.Invite.String())
	return 0
}

// normalizeSIP makes a hand-written message parseable: CRLF line ends and
// a Content-Length that matches the body.
func normalizeSIP(raw []byte) []byte {
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	head, body, _ := strings.Cut(s, "\n\n")
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(head, "\n"), "\n") {
		name, _, _ := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			continue
		}
		b.WriteString(line + "\r\n")
	}
	body = strings.ReplaceAll(body, "\n", "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return []byte(b.String())
}
