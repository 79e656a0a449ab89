package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/web"
)

// userCommand runs "tollgate user add": it creates a web UI user. There is
// no default password anywhere: the first admin is made this way.
func userCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const usage = "usage: tollgate user add -c FILE --name NAME --role admin|operator|viewer [--password-stdin]"
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	name := fs.String("name", "", "user name")
	role := fs.String("role", "", "admin, operator or viewer")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *name == "" || *role == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	password := web.NewPassword()
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "tollgate user add: no password on standard input")
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
		fmt.Fprintln(stderr, "tollgate user add: cdr.database is not set in", *path, "— the web UI keeps its users in PostgreSQL")
		return 1
	}
	if err := becomePeerUser(cfg.CDR.Database); err != nil {
		fmt.Fprintln(stderr, "tollgate user add:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.CDR.Database)
	if err != nil {
		fmt.Fprintln(stderr, "tollgate user add: cdr.database: invalid connection string")
		return 1
	}
	defer pool.Close()
	if _, err := web.AddUser(ctx, pool, *name, web.Role(*role), password); err != nil {
		fmt.Fprintf(stderr, "tollgate user add: %v%s\n", err, dbHint(err))
		return 1
	}
	if *fromStdin {
		fmt.Fprintf(stdout, "user %s (%s) added\n", *name, *role)
	} else {
		fmt.Fprintf(stdout, "user %s (%s) added; password: %s\n", *name, *role, password)
	}
	return 0
}
