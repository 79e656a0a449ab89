package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Postgres is a private PostgreSQL cluster: its own data directory, unix
// socket directory and 127.0.0.1 port, run by an unprivileged user because
// initdb and postgres refuse to run as root. Stop and Start stop and restart
// the same cluster on the same port, so a test can simulate an outage.
type Postgres struct {
	bin    string // /usr/lib/postgresql/<ver>/bin
	base   string // holds data/, sock/ and postgres.log
	port   int
	fsync  bool
	cred   *syscall.Credential // nil when not root: run as ourselves
	uid    int
	gid    int
	remove bool // base is a temp dir to delete on Close

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// PostgresOptions tune a cluster started for a test.
type PostgresOptions struct {
	// Durable keeps fsync and synchronous commit on. Tests leave it off for
	// speed; a benchmark that measures durability-relevant throughput (the CDR
	// writer's rate) turns it on so the figure means something.
	Durable bool
}

// StartPostgres starts a throwaway cluster for one test (fsync off) and
// removes it when the test ends. Use it when the test stops and restarts the
// server; tests that only need a clean database should prefer
// SharedPostgres(t).NewDatabase(t), which costs a CREATE DATABASE rather
// than a whole cluster.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	return StartPostgresOpts(t, PostgresOptions{})
}

// StartPostgresOpts is StartPostgres with options.
func StartPostgresOpts(t testing.TB, opt PostgresOptions) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := postgresBin(ctx)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pg, err := newTempCluster(ctx, bin, opt)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pg.Close)
	return pg
}

var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
	main bool // set by PostgresMain: someone will stop the shared cluster
}

// PostgresMain runs a test package's tests and then stops the cluster that
// SharedPostgres started. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m)) }
func PostgresMain(m *testing.M) int {
	shared.main = true
	code := m.Run()
	if shared.pg != nil {
		shared.pg.Close()
	}
	return code
}

// SharedPostgres returns the test package's one cluster, started on first
// use. One cluster per package keeps the suite fast (initdb and start cost
// seconds on a loaded 2-core machine); tests stay independent by each taking
// its own database with NewDatabase. Tests must not Stop it: use
// StartPostgres for outages. It requires TestMain to call PostgresMain, which
// stops the cluster when the package's tests end.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	if !shared.main {
		t.Fatal("testenv: SharedPostgres needs TestMain to call testenv.PostgresMain (it stops the cluster)")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		bin, err := postgresBin(ctx)
		if err != nil {
			shared.err = err
			return
		}
		shared.pg, shared.err = newTempCluster(ctx, bin, PostgresOptions{})
	})
	if shared.err != nil {
		t.Fatalf("testenv: %v", shared.err)
	}
	return shared.pg
}

var dbSeq struct {
	sync.Mutex
	n int
}

// NewDatabase creates an empty database in the cluster for this test and
// returns its DSN; it is dropped when the test ends.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	dbSeq.Lock()
	dbSeq.n++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.n)
	dbSeq.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := p.psql(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := p.psql(ctx, "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v\n%s", name, err, out)
		}
	})
	return p.dsn(name)
}

// StartPostgresDir (re)uses a persistent cluster in dir — what `make run`
// uses: initdb only when dir holds no cluster yet, then start it on
// 127.0.0.1:port with fsync on. Debian's postgresql package is installed when
// missing. The caller stops it with Stop; it also stops if the calling
// process dies. dir's parent directories must be traversable by the
// postgres user when running as root.
func StartPostgresDir(ctx context.Context, dir string, port int) (*Postgres, error) {
	bin, err := postgresBin(ctx)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("postgres dir: %w", err)
	}
	pg, err := newPostgres(bin, dir, port, PostgresOptions{Durable: true})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		if err := pg.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if err := pg.Start(); err != nil {
		return nil, err
	}
	return pg, nil
}

// DSN is a libpq/pgx connection string for the cluster's postgres database,
// as the postgres superuser over TCP (trust authentication on loopback: these
// clusters are private to a test or a developer's machine).
func (p *Postgres) DSN() string { return p.dsn("postgres") }

// Port is the cluster's TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

func (p *Postgres) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// Start starts the server (again) on its port and waits until it accepts
// connections. Starting a running cluster is a no-op.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	var lastErr error
	// The port may be briefly taken by someone else after our Stop (or
	// between FreeTCPPort and now); a few tries ride that out.
	for range 5 {
		lastErr = p.startOnce()
		if lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (p *Postgres) startOnce() error {
	sync := "off"
	if p.fsync {
		sync = "on"
	}
	logPath := filepath.Join(p.base, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("postgres log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(p.bin, "postgres"),
		"-D", filepath.Join(p.base, "data"),
		"-p", strconv.Itoa(p.port),
		"-k", filepath.Join(p.base, "sock"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync="+sync,
		"-c", "synchronous_commit="+sync,
		"-c", "full_page_writes="+sync,
		"-c", "max_connections=200",
		"-c", "shared_buffers=64MB",
	)
	cmd.Dir = p.base
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = []string{"LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"}
	// Pdeathsig: a killed test binary (or make run) must not leave a server
	// behind holding the port; SIGINT is PostgreSQL's fast shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := p.waitReady(done, 90*time.Second); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return fmt.Errorf("postgres on port %d: %w\n%s", p.port, err, tail(logPath))
	}
	p.cmd, p.done = cmd, done
	return nil
}

// waitReady polls with pg_isready until the server accepts connections, the
// process exits, or the deadline passes.
func (p *Postgres) waitReady(done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		cmd := exec.Command(filepath.Join(p.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-d", "postgres", "-U", "postgres", "-t", "2")
		if cmd.Run() == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("server exited during startup")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", limit)
		}
	}
}

// Stop shuts the server down (fast shutdown: sessions are disconnected,
// committed data is kept) and waits for it to exit. The cluster can be
// started again with Start.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	p.cmd, p.done = nil, nil
}

// Close stops the server and deletes a temporary cluster's files.
func (p *Postgres) Close() {
	p.Stop()
	if p.remove {
		_ = os.RemoveAll(p.base)
	}
}

func newTempCluster(ctx context.Context, bin string, opt PostgresOptions) (*Postgres, error) {
	// Not t.TempDir: its parent is mode 0700 and owned by root, so the
	// postgres user could not reach the data directory.
	base, err := os.MkdirTemp("", "tollgate-pg-")
	if err != nil {
		return nil, err
	}
	port, err := PickTCPPort()
	if err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	pg, err := newPostgres(bin, base, port, opt)
	if err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	pg.remove = true
	if err := pg.initdb(ctx); err != nil {
		pg.Close()
		return nil, err
	}
	if err := pg.Start(); err != nil {
		pg.Close()
		return nil, err
	}
	return pg, nil
}

func newPostgres(bin, base string, port int, opt PostgresOptions) (*Postgres, error) {
	p := &Postgres{bin: bin, base: base, port: port, fsync: opt.Durable, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user (Debian's postgresql package creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.uid, p.gid = uid, gid
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	for _, d := range []string{base, filepath.Join(base, "sock")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		if err := p.chown(d); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Postgres) chown(path string) error {
	if p.cred == nil {
		return nil
	}
	if err := os.Chown(path, p.uid, p.gid); err != nil {
		return fmt.Errorf("chown %s to postgres: %w", path, err)
	}
	return nil
}

func (p *Postgres) initdb(ctx context.Context) error {
	data := filepath.Join(p.base, "data")
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	cmd.Dir = p.base
	cmd.Env = []string{"LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", data, err, out)
	}
	return nil
}

// psql runs one SQL command over the unix socket.
func (p *Postgres) psql(ctx context.Context, db, sql string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", filepath.Join(p.base, "sock"), "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", db, "-c", sql)
	cmd.Dir = p.base
	return cmd.CombinedOutput()
}

var pgInstall sync.Mutex

// postgresBin finds the newest /usr/lib/postgresql/<ver>/bin, installing
// Debian's postgresql package when there is none.
func postgresBin(ctx context.Context) (string, error) {
	pgInstall.Lock()
	defer pgInstall.Unlock()
	if bin := newestPostgresBin(); bin != "" {
		return bin, nil
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %w\n%s", args, err, out)
		}
	}
	if bin := newestPostgresBin(); bin != "" {
		return bin, nil
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin/postgres after installing postgresql")
}

func newestPostgresBin() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
