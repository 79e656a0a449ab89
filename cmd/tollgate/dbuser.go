package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// peerUser is the system user a command run as root becomes before it
// connects to dsn, or nil. PostgreSQL's default authentication on its
// local socket (Debian and RHEL alike) is peer: it admits a process whose
// system user is named like the role, so root connecting as the role
// tollgate, as the first-admin command of docs/install.md does, got "Peer
// authentication failed". Over TCP a password is asked for instead, and
// root can send it. Everything the command needs from root (the
// configuration, the environment file) has been read by then.
func peerUser(dsn string) *user.User {
	if os.Geteuid() != 0 {
		return nil
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil || !strings.HasPrefix(cfg.Host, "/") {
		return nil
	}
	u, err := user.Lookup(cfg.User)
	if err != nil || u.Uid == "0" {
		return nil
	}
	return u
}

// becomePeerUser drops the process to peerUser(dsn), when there is one.
func becomePeerUser(dsn string) error {
	u := peerUser(dsn)
	if u == nil {
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := dropPrivileges(uid, gid); err != nil {
		return fmt.Errorf("becoming %s for PostgreSQL's peer authentication: %w", u.Username, err)
	}
	return nil
}

// dbHint is what to add to a database error so that an administrator
// knows what to do: the schema is missing only when a table or column is.
func dbHint(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ""
	}
	switch pgErr.Code {
	case "42P01", "42703": // undefined_table, undefined_column
		return " (the database schema is missing or older than this tollgate: run `tollgate migrate -c FILE` or `tollgate setup-db`)"
	case "28000", "28P01": // invalid_authorization_specification (peer, hba), invalid_password
		return " (PostgreSQL refused the login: use the connection string `tollgate setup-db` wrote to /etc/tollgate/tollgate.env, as docs/install.md shows)"
	}
	return ""
}
