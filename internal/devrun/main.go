// Command devrun is `make run`: the whole appliance on one machine for a
// newcomer. It starts a private PostgreSQL cluster under .run/ (the helper
// the tests use, installing Debian's postgresql when missing), creates and
// migrates the tollgate database, then runs `tollgate serve` on the example
// configuration with its call records going there, until Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/testenv"
)

func main() {
	cfgPath := flag.String("c", "examples/tollgate.yaml", "configuration to run")
	dir := flag.String("dir", ".run", "state directory (git-ignored)")
	port := flag.Int("pg-port", 55432, "port of the private PostgreSQL on 127.0.0.1")
	bin := flag.String("bin", "bin/tollgate", "the tollgate binary")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("make run: ")
	if err := run(*cfgPath, *dir, *port, *bin); err != nil {
		log.Fatal(err)
	}
}

func run(cfgPath, dir string, port int, bin string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// The cluster runs as the postgres user, which must be able to reach it.
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(abs, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("starting the private PostgreSQL cluster in %s/pg on 127.0.0.1:%d", dir, port)
	pg, err := testenv.StartPostgresDir(ctx, filepath.Join(abs, "pg"), port)
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer pg.Stop()
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tollgate?sslmode=disable", pg.Port())
	if err := createDatabase(ctx, pg.DSN(), "tollgate"); err != nil {
		return err
	}
	env := append(os.Environ(), config.DatabaseEnv+"="+dsn)
	mig := exec.CommandContext(ctx, bin, "migrate", "-c", cfgPath)
	mig.Env, mig.Stdout, mig.Stderr = env, os.Stdout, os.Stderr
	if err := mig.Run(); err != nil {
		return fmt.Errorf("tollgate migrate: %w", err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	login := demoAdmin(ctx, bin, cfgPath, env)
	banner(cfg, cfgPath, dsn, login)

	serve := exec.Command(bin, "serve", "-c", cfgPath)
	serve.Env, serve.Stdout, serve.Stderr = env, os.Stdout, os.Stderr
	if err := serve.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return nil
			}
			return err
		case <-time.After(cfg.Timers.Drain + 15*time.Second):
			serve.Process.Kill()
			return errors.New("tollgate did not stop; killed")
		}
	}
}

func createDatabase(ctx context.Context, adminDSN, name string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

// demoAdmin creates the web UI's demo administrator on the first run and
// says how to log in. There is no default password: the one printed here
// is generated, and shown this once.
func demoAdmin(ctx context.Context, bin, cfgPath string, env []string) string {
	add := exec.CommandContext(ctx, bin, "user", "add", "-c", cfgPath, "--name", "admin", "--role", "admin")
	add.Env = env
	out, err := add.CombinedOutput()
	if err == nil {
		_, password, _ := strings.Cut(strings.TrimSpace(string(out)), "password: ")
		return "user admin, password " + password + " (shown once: note it)"
	}
	if strings.Contains(string(out), "exists") || strings.Contains(string(out), "duplicate") {
		return "user admin, with the password printed the first time make run ran (rm -rf .run to start afresh)"
	}
	return "no demo admin: " + strings.TrimSpace(string(out))
}

func banner(cfg *config.Config, cfgPath, dsn, login string) {
	fmt.Printf(`
  Tollgate is starting on %s
    SIP:          %v
    Routes:       %d (the example sends every call to 127.0.0.1:5080)
    Web UI:       http://%s/  —  log in as %s
    Call records: PostgreSQL %s
                  (psql "%s" -c 'select setup_time, caller_number, called_received, sip_code, disconnect_reason from cdrs')

  Place a test call from another terminal:
    sipp -sn uas -i 127.0.0.1 -p 5080 &
    sipp -sn uac -i 127.0.0.1 -p 5070 127.0.0.1:5060 -s 15551230002 -m 1

  Ctrl-C stops Tollgate (calls drain first) and the private PostgreSQL.

`, cfgPath, cfg.SIP.Listen, len(cfg.Routes), cfg.Web.Listen, login, dsn, dsn)
}
