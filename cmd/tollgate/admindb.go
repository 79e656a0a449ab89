package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/web"
)

// passwordArg is the password of an account command (`tollgate user`,
// `tollgate subscriber`): the first line of stdin with -password-stdin,
// else a new random one. code is not 0 when stdin held none.
func passwordArg(cmd string, fromStdin bool, stdin io.Reader, stderr io.Writer) (password string, code int) {
	if !fromStdin {
		return web.NewPassword(), 0
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintf(stderr, "%s: no password on standard input\n", cmd)
		return "", 2
	}
	return strings.TrimRight(line, "\r\n"), 0
}

// accountDB opens the PostgreSQL database of the configuration at path
// (cdr.database), where the account commands keep their accounts, as the
// peer user when run as root. holds says what the database keeps, for the
// error when cdr.database is not set. code is not 0 when it cannot.
func accountDB(ctx context.Context, cmd, path, holds string, stderr io.Writer) (*config.Config, *pgxpool.Pool, int) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, 1
	}
	if cfg.CDR.Database == "" {
		fmt.Fprintf(stderr, "%s: cdr.database is not set in %s — %s\n", cmd, path, holds)
		return nil, nil, 1
	}
	if err := becomePeerUser(cfg.CDR.Database); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return nil, nil, 1
	}
	pool, err := pgxpool.New(ctx, cfg.CDR.Database)
	if err != nil {
		fmt.Fprintf(stderr, "%s: cdr.database: invalid connection string\n", cmd)
		return nil, nil, 1
	}
	return cfg, pool, 0
}
