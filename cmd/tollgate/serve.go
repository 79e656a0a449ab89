package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/b2bua"
	"github.com/tollgate/tollgate/config"
)

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	return *path, true
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("check-config", args, stderr)
	if !ok {
		return 2
	}
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d listeners, %d routes)\n", path, len(c.SIP.Listeners()), len(c.Routes))
	return 0
}

// startDaemon is the start of the long-running commands: the -c flag, the
// configuration, and the logger it asks for (made the default). code is
// the exit code when it fails, 0 otherwise.
func startDaemon(name string, args []string, stderr io.Writer) (cfg *config.Config, path string, log *slog.Logger, code int) {
	path, ok := configFlag(name, args, stderr)
	if !ok {
		return nil, "", nil, 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, "", nil, 1
	}
	log = newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	return cfg, path, log, 0
}

func serve(args []string, stderr io.Writer) int {
	cfg, path, log, code := startDaemon("serve", args, stderr)
	if code != 0 {
		return code
	}
	log.Info("tollgate starting", "version", version, "config", path)

	// Signals are caught before anything starts: a SIGTERM while the
	// listeners come up must still drain rather than kill the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	records, err := openCDR(ctx, cfg.CDR, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer records.Close()
	defer stop() // the shipper stops before the records close
	// The media relays outlive the switch: the switch's shutdown ends every
	// call, deleting its relay session, before they close.
	media, err := b2bua.StartMedia(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer media.Close()
	// RADIUS closes first: the switch's shutdown has sent every call's
	// Stop records, which it may still be delivering or queueing.
	radius, err := b2bua.StartAAA(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer radius.Close()
	sw, err := b2bua.New(cfg, b2bua.Options{Log: log, Sink: records, Journal: records, Media: media, AAA: radius})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- sw.Serve(ctx) }()
	stopWeb, err := startWeb(ctx, cfg, path, sw, records, media, radius, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer stopWeb()

	for {
		select {
		case err := <-serveErr:
			if err != nil {
				log.Error("SIP service failed", "error", err)
				return 1
			}
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(sw, path, log)
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			sctx, cancel := context.WithTimeout(context.Background(), sw.Config().Timers.Drain+10*time.Second)
			sw.Shutdown(sctx)
			cancel()
			records.Flush(10 * time.Second)
			stop()
			<-serveErr
			sw.Close()
			log.Info("stopped")
			return 0
		}
	}
}

// reload applies a new configuration file, or keeps the running one when
// the file is wrong.
func reload(sw *b2bua.Switch, path string, log *slog.Logger) {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("configuration reload refused; keeping the running one", "error", err)
		return
	}
	sw.Reload(cfg)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
