package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/migrations"
)

// setupDBOptions are the flags of "tollgate setup-db".
type setupDBOptions struct {
	host     string // socket directory or host name of the local PostgreSQL
	port     int
	database string
	role     string // the PostgreSQL role, and the system user the service runs as
	envFile  string
	admin    string // the system user that administers PostgreSQL (peer auth)
}

// identifier is what setup-db accepts as a role or database name: plain
// lower-case SQL identifiers, so that no quoting question ever arises.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// setupDB runs "tollgate setup-db": on a host with a local PostgreSQL, it
// creates the role and the database when missing, writes the connection
// string to the service's environment file and applies the migrations as
// the service's user. Run again it changes nothing; it never drops data.
func setupDB(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup-db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o setupDBOptions
	fs.StringVar(&o.host, "host", "/var/run/postgresql", "PostgreSQL socket directory or host")
	fs.IntVar(&o.port, "port", 5432, "PostgreSQL port")
	fs.StringVar(&o.database, "database", "tollgate", "database to create")
	fs.StringVar(&o.role, "user", "tollgate", "role to create; also the system user the service and the migrations run as")
	fs.StringVar(&o.envFile, "env-file", "/etc/tollgate/tollgate.env", "file that receives "+config.DatabaseEnv)
	fs.StringVar(&o.admin, "admin", "postgres", "system user that administers PostgreSQL (runs psql)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tollgate setup-db: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := o.run(ctx, stdout); err != nil {
		fmt.Fprintln(stderr, "tollgate setup-db:", err)
		return 1
	}
	return 0
}

func (o *setupDBOptions) run(ctx context.Context, out io.Writer) error {
	if !identifier.MatchString(o.role) || !identifier.MatchString(o.database) {
		return errors.New("--user and --database must be lower-case SQL identifiers ([a-z_][a-z0-9_]*)")
	}
	if os.Geteuid() != 0 {
		return errors.New("run it as root: it writes " + o.envFile + " and runs psql as " + o.admin)
	}
	svc, err := user.Lookup(o.role)
	if err != nil {
		return fmt.Errorf("system user %q: %w (the package creates it; or pass --user)", o.role, err)
	}
	uid, _ := strconv.Atoi(svc.Uid)
	gid, _ := strconv.Atoi(svc.Gid)

	env, err := readEnvFile(o.envFile)
	if err != nil {
		return err
	}
	// An existing connection string is kept as it is, password included, so
	// that a second run cannot lock the running service out.
	dsn, kept := env.get(config.DatabaseEnv)
	var password string
	if kept {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("%s: %s does not parse: %w", o.envFile, config.DatabaseEnv, err)
		}
		if cfg.User != o.role || cfg.Database != o.database {
			return fmt.Errorf("%s already names database %q as role %q; remove its %s line to let setup-db write one for %q as %q",
				o.envFile, cfg.Database, cfg.User, config.DatabaseEnv, o.database, o.role)
		}
		password = cfg.Password
	} else {
		password, err = newPassword()
		if err != nil {
			return err
		}
		dsn = o.dsn(password)
	}

	roleExists, owner, err := o.inspect(ctx)
	if err != nil {
		return err
	}
	if owner != "" && owner != o.role {
		return fmt.Errorf("database %q exists and belongs to role %q, not %q: setup-db does not take over a database it did not create",
			o.database, owner, o.role)
	}
	var sql strings.Builder
	switch {
	case !roleExists:
		fmt.Fprintf(&sql, "CREATE ROLE %s LOGIN PASSWORD %s;\n", o.role, quoteLiteral(password))
	case !kept:
		// A role left from an earlier installation gets the password now
		// written for the service; nothing else about it changes.
		fmt.Fprintf(&sql, "ALTER ROLE %s LOGIN PASSWORD %s;\n", o.role, quoteLiteral(password))
	}
	if owner == "" {
		fmt.Fprintf(&sql, "CREATE DATABASE %s OWNER %s;\n", o.database, o.role)
	}
	if sql.Len() > 0 {
		if _, err := o.psql(ctx, sql.String()); err != nil {
			return err
		}
	}
	report(out, "role "+o.role, !roleExists, !kept && roleExists)
	report(out, "database "+o.database, owner == "", false)

	if !kept {
		env.set(config.DatabaseEnv, dsn)
	}
	if err := env.write(o.envFile, gid); err != nil {
		return err
	}
	if kept {
		fmt.Fprintf(out, "%s: %s kept\n", o.envFile, config.DatabaseEnv)
	} else {
		fmt.Fprintf(out, "%s: %s written\n", o.envFile, config.DatabaseEnv)
	}

	// The migrations run as the service's user, over the same connection
	// it will use: peer authentication on the local socket admits exactly
	// that user, and the tables belong to the role from the start. This is
	// the last step: the process cannot become root again.
	if err := dropPrivileges(uid, gid); err != nil {
		return err
	}
	rep, err := migrations.Apply(ctx, dsn)
	if err != nil {
		return fmt.Errorf("as %s: %w", o.role, err)
	}
	fmt.Fprintln(out, rep)
	fmt.Fprintln(out, "next: systemctl restart tollgate")
	return nil
}

func report(out io.Writer, what string, created, updated bool) {
	switch {
	case created:
		fmt.Fprintln(out, what+": created")
	case updated:
		fmt.Fprintln(out, what+": existed; password set for the service")
	default:
		fmt.Fprintln(out, what+": exists")
	}
}

// dsn is the connection string the service will use: the socket directory
// as a host query parameter (a URL host cannot hold a path), or host:port.
// It holds no '&', space or quote, so a shell can source the file too, and
// psql takes it as it is.
func (o *setupDBOptions) dsn(password string) string {
	if strings.HasPrefix(o.host, "/") {
		return fmt.Sprintf("postgres://%s:%s@:%d/%s?host=%s", o.role, password, o.port, o.database, o.host)
	}
	return fmt.Sprintf("postgres://%s:%s@%s/%s", o.role, password, net.JoinHostPort(o.host, strconv.Itoa(o.port)), o.database)
}

// inspect reports whether the role exists and who owns the database ("" when
// it does not exist). It is also where a missing server shows up.
func (o *setupDBOptions) inspect(ctx context.Context) (bool, string, error) {
	q := fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s'), "+
		"COALESCE((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '%s'), '');\n", o.role, o.database)
	res, err := o.psql(ctx, q)
	if err != nil {
		return false, "", err
	}
	exists, owner, ok := strings.Cut(strings.TrimSpace(res), "|")
	if !ok {
		return false, "", fmt.Errorf("psql: unexpected answer %q", res)
	}
	return exists == "t", owner, nil
}

// psql runs SQL, given on standard input so that no password shows in the
// process list, as the PostgreSQL administrator.
func (o *setupDBOptions) psql(ctx context.Context, sql string) (string, error) {
	runuser, err := findBinary("runuser", "/usr/sbin/runuser", "/sbin/runuser")
	if err != nil {
		return "", err
	}
	psql, err := findBinary("psql", "/usr/bin/psql")
	if err != nil {
		return "", errors.New("psql not found: install PostgreSQL (Debian: apt install postgresql; RHEL: dnf install postgresql-server)")
	}
	cmd := exec.CommandContext(ctx, runuser, "-u", o.admin, "--", psql, "-X", "-q", "-At", "-F", "|",
		"-v", "ON_ERROR_STOP=1", "-h", o.host, "-p", strconv.Itoa(o.port), "-d", "postgres", "-f", "-")
	cmd.Dir = "/" // the administrator may not enter root's working directory
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql as %s on %s port %d: %w: %s (is PostgreSQL installed and running on this host?)",
			o.admin, o.host, o.port, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// quoteLiteral quotes a string for SQL (standard_conforming_strings, the
// default since PostgreSQL 9.1): a kept password comes from a file an
// administrator may have written by hand.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func findBinary(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// dropPrivileges makes the whole process (every thread, on Linux) the
// service's user.
func dropPrivileges(uid, gid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// envFile is a systemd EnvironmentFile as lines, so that setup-db changes
// its own variable and keeps whatever else the administrator put there.
type envFile struct {
	lines []string
}

func readEnvFile(path string) (*envFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &envFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	return parseEnvFile(data), nil
}

func parseEnvFile(data []byte) *envFile {
	e := &envFile{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for sc.Scan() {
		e.lines = append(e.lines, sc.Text())
	}
	return e
}

// get returns the value of key, without the quotes systemd allows; the last
// assignment wins, as in systemd.
func (e *envFile) get(key string) (string, bool) {
	var val string
	var found bool
	for _, l := range e.lines {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.TrimSpace(k) == key {
			val, found = unquote(strings.TrimSpace(v)), true
		}
	}
	return val, found && val != ""
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// set appends key=value; callers set only keys that get did not find.
func (e *envFile) set(key, value string) {
	e.lines = append(e.lines, key+"="+value)
}

func (e *envFile) bytes() []byte {
	var b bytes.Buffer
	for _, l := range e.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// write replaces path atomically with the file's lines, mode 0640, owned by
// root and the service's group: it holds a password the service must read
// and nobody else may.
func (e *envFile) write(path string, gid int) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tollgate.env.*")
	if err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return fmt.Errorf("env file: %w", err)
	}
	if err := tmp.Chown(0, gid); err != nil {
		tmp.Close()
		return fmt.Errorf("env file: %w", err)
	}
	if _, err := tmp.Write(e.bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("env file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("env file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	return nil
}
