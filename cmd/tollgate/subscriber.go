package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/subscriber"
	"github.com/tollgate/tollgate/web"
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
	password := web.NewPassword()
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintf(stderr, "tollgate subscriber %s: no password on standard input\n", sub)
			return 2
		}
		password = strings.TrimRight(line, "\r\n")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.CDR.Database == "" {
		fmt.Fprintf(stderr, "tollgate subscriber %s: cdr.database is not set in %s — subscribers are kept in PostgreSQL\n", sub, *path)
		return 1
	}
	if err := becomePeerUser(cfg.CDR.Database); err != nil {
		fmt.Fprintf(stderr, "tollgate subscriber %s: %v\n", sub, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.CDR.Database)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate subscriber %s: cdr.database: invalid connection string\n", sub)
		return 1
	}
	defer pool.Close()
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
