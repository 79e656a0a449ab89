// Command tollgate is the Tollgate carrier softswitch: one binary whose
// subcommands run the switch, check a configuration and print the version.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

const usage = `tollgate — carrier SIP B2BUA with RADIUS AAA, prepaid and CDRs

Usage:
  tollgate serve -c FILE          run the switch on a configuration file
  tollgate serve --gateway HOST[:PORT] [--listen udp:IP:PORT,...] [--cdr-dir DIR]
                                  run it without a file: every call to that gateway, defaults otherwise
  tollgate check-config -c FILE   validate a configuration file and report every problem
  tollgate migrate -c FILE        apply the database migrations (cdr.database)
  tollgate setup-db               as root: create the local PostgreSQL role and database, migrate
  tollgate cdr export -c FILE --from TIME [--to TIME] [--format csv]
                                  stream call records from the database as CSV (RFC 4180)
  tollgate user add -c FILE --name NAME --role admin|operator|viewer [--password-stdin]
                                  create a web UI user; prints a generated password
  tollgate user list|passwd|role|disable|enable|delete -c FILE [--name NAME] [--role ROLE]
                                  list and manage the web UI's users ("tollgate user" for details)
  tollgate subscriber add|list|delete -c FILE [--user NAME] [--password-stdin]
                                  the local registrar's accounts in the database (digest HA1 only)
  tollgate relay -c FILE          run the built-in media relay alone (media.builtin), answering
                                  the rtpproxy protocol on media.builtin.control
  tollgate profile test -c FILE --invite FILE.sip   show the call profile and gateway INVITE for an INVITE
  tollgate version                print the version

Signals to "serve": SIGHUP reloads the configuration (a bad file is refused
and the running one kept); SIGTERM or SIGINT stop taking calls, let calls in
progress finish for up to timers.drain, then hang up the rest.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check-config":
		return checkConfig(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "setup-db":
		return setupDB(args[1:], stdout, stderr)
	case "cdr":
		return cdrCommand(args[1:], stdout, stderr)
	case "user":
		return userCommand(args[1:], os.Stdin, stdout, stderr)
	case "subscriber":
		return subscriberCommand(args[1:], os.Stdin, stdout, stderr)
	case "relay":
		return relayCommand(args[1:], stderr)
	case "profile":
		return profileCommand(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "tollgate", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tollgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
