package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate/subscriber"
)

const subscriberUsage = `usage: tollgate subscriber COMMAND -c FILE [flags]
  list                                   list the local registrar's subscribers in the database
  add     --user NAME [--password-stdin] create one in registration.realm; prints a generated password
  delete  --user NAME                    delete one
Only the digest HA1 of the password is stored (docs/registration.md).`

// subscriberCommand runs "tollgate subscriber ...": it manages the local
// registrar's accounts kept in PostgreSQL. A running switch reads them
// within a second.
func subscriberCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, subscriberUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("subscriber "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	user := fs.String("user", "", "SIP user name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	needsUser, known := map[string]bool{"list": false, "add": true, "delete": true}[sub]
	if !known || fs.NArg() > 0 || (needsUser && *user == "") {
		fmt.Fprintln(stderr, subscriberUsage)
		return 2
	}
	password, code := passwordArg("tollgate subscriber "+sub, *fromStdin, stdin, stderr)
	if code != 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, pool, code := accountDB(ctx, "tollgate subscriber "+sub, *path, "subscribers are kept in PostgreSQL", stderr)
	if code != 0 {
		return code
	}
	defer pool.Close()
	var err error
	store := subscriber.NewStore(pool)
	switch sub {
	case "list":
		err = listSubscribers(ctx, store, stdout)
	case "add":
		if _, err = store.Add(ctx, *user, cfg.Registration.Realm, password); err == nil {
			done := fmt.Sprintf("subscriber %s added in realm %s", *user, cfg.Registration.Realm)
			if !*fromStdin {
				done += "; password: " + password
			}
			fmt.Fprintln(stdout, done)
		}
	case "delete":
		if err = store.Delete(ctx, *user); err == nil {
			fmt.Fprintf(stdout, "subscriber %s deleted; its bindings expire as they would\n", *user)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate subscriber %s: %v%s\n", sub, err, dbHint(err))
		return 1
	}
	return 0
}

func listSubscribers(ctx context.Context, store *subscriber.Store, stdout io.Writer) error {
	subs, err := store.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tREALM\tCREATED")
	for _, s := range subs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", terminalSafe(s.User), terminalSafe(s.Realm), s.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
