package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/web"
)

const userUsage = `usage: tollgate user COMMAND -c FILE [flags]
  list                                          list the users
  add     --name NAME --role ROLE [--password-stdin]   create a user; prints a generated password
  passwd  --name NAME [--password-stdin]        set a new password; prints a generated one
  role    --name NAME --role ROLE               change a user's role
  disable --name NAME                           disable a user (its API tokens are kept, refused)
  enable  --name NAME                           enable a user again
  delete  --name NAME                           delete a user and its API tokens
ROLE is admin, operator or viewer. No change may leave no enabled admin.`

// userCommand runs "tollgate user ...": it manages the web UI's users.
// There is no default password anywhere: the first admin is made this way,
// and this is the way back in when no admin can log in.
func userCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	name := fs.String("name", "", "user name")
	role := fs.String("role", "", "admin, operator or viewer")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	needs := map[string][2]bool{ // name, role
		"list": {false, false}, "add": {true, true}, "passwd": {true, false}, "role": {true, true},
		"disable": {true, false}, "enable": {true, false}, "delete": {true, false},
	}
	need, known := needs[sub]
	if !known || fs.NArg() > 0 || (need[0] && *name == "") || (need[1] && *role == "") {
		fmt.Fprintln(stderr, userUsage)
		return 2
	}
	password, code := passwordArg("tollgate user "+sub, *fromStdin, stdin, stderr)
	if code != 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, pool, code := accountDB(ctx, "tollgate user "+sub, *path, "the web UI keeps its users in PostgreSQL", stderr)
	if code != 0 {
		return code
	}
	defer pool.Close()
	var err error
	var done string
	switch sub {
	case "list":
		err = listUsers(ctx, pool, stdout)
	case "add":
		_, err = web.AddUser(ctx, pool, *name, web.Role(*role), password)
		done = fmt.Sprintf("user %s (%s) added", *name, *role)
	case "passwd":
		err = web.SetUserPassword(ctx, pool, *name, password)
		done = "password of " + *name + " set; its sessions end"
	case "role":
		err = web.SetUserRole(ctx, pool, *name, web.Role(*role))
		done = "user " + *name + " is now " + *role
	case "disable":
		err = web.SetUserDisabled(ctx, pool, *name, true)
		done = "user " + *name + " disabled; its API tokens are kept and refused until it is enabled"
	case "enable":
		err = web.SetUserDisabled(ctx, pool, *name, false)
		done = "user " + *name + " enabled"
	case "delete":
		err = web.DeleteUser(ctx, pool, *name)
		done = "user " + *name + " and its API tokens deleted"
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate user %s: %v%s\n", sub, err, dbHint(err))
		return 1
	}
	if done == "" {
		return 0
	}
	if (sub == "add" || sub == "passwd") && !*fromStdin {
		done += "; password: " + password
	}
	fmt.Fprintln(stdout, done)
	return 0
}

func listUsers(ctx context.Context, db *pgxpool.Pool, stdout io.Writer) error {
	users, err := web.ListUsers(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tLAST LOGIN")
	for _, u := range users {
		state, last := "enabled", "never"
		if u.Disabled {
			state = "disabled"
		}
		if u.LastLogin != nil {
			last = u.LastLogin.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", terminalSafe(u.Name), u.Role, state, last)
	}
	return tw.Flush()
}

// terminalSafe quotes a name holding anything unprintable: a name chosen in
// the web UI must not send escape sequences to an administrator's terminal.
func terminalSafe(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
