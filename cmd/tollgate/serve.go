package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/routing"
	"github.com/tollgate/tollgate/subscriber"
	"github.com/tollgate/tollgate/switch/b2bua"
)

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	return parseFlags(name, args, stderr, nil)
}

// parseFlags parses -c and the flags extra adds.
func parseFlags(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tollgate/tollgate.yaml", "configuration file")
	if extra != nil {
		extra(fs)
	}
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
	return startDaemonWith(name, args, stderr, nil, nil)
}

// startDaemonWith is startDaemon with the command's own flags added. load,
// when not nil, makes the configuration instead of config.Load (serve
// --gateway), and returns the path to reload it from ("" for none).
func startDaemonWith(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet),
	load func(path string) (*config.Config, string, error)) (cfg *config.Config, path string, log *slog.Logger, code int) {
	path, ok := parseFlags(name, args, stderr, extra)
	if !ok {
		return nil, "", nil, 2
	}
	if load == nil {
		load = func(path string) (*config.Config, string, error) {
			c, err := config.Load(path)
			return c, path, err
		}
	}
	cfg, path, err := load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, "", nil, 1
	}
	// Every line names the node, so that the logs of a cluster gathered in
	// one place still say which server wrote each.
	log = newLogger(cfg.Log, stderr).With("node", cfg.Cluster.Node)
	slog.SetDefault(log)
	return cfg, path, log, 0
}

func serve(args []string, stderr io.Writer) int {
	var pprofAddr string
	var gw gatewayFlags
	cfg, path, log, code := startDaemonWith("serve", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&pprofAddr, "pprof", "", "serve Go's runtime profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty")
		gw.register(fs)
	}, gw.load)
	if code != 0 {
		return code
	}
	log.Info("tollgate starting", "version", version, "config", path)
	if path == "" {
		log.Info("no configuration file: every call goes to one gateway, with the defaults", "gateway", gw.gateway, "records", gw.cdrDir)
	}
	gc := tuneGC(cfg.Runtime, log)
	defer gc.stop()
	if pprofAddr != "" {
		_, stopPprof, err := startPprof(pprofAddr, log)
		if err != nil {
			log.Error("cannot start", "error", err)
			return 1
		}
		defer stopPprof()
	}

	// Signals are caught before anything starts: a SIGTERM while the
	// listeners come up must still drain rather than kill the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	records, err := openCDR(ctx, cfg.CDR, cfg.Cluster.Node, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer records.Close()
	defer stop() // the shipper stops before the records close
	// The media relays outlive the switch: the switch's shutdown ends every
	// call, deleting its relay session, before they close.
	media, err := startMedia(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer media.Close()
	if cfg.Cluster.Shared() {
		// Before this node's first heartbeat: see claimOwnCalls.
		claimOwnCalls(ctx, cfg.Cluster, records, log)
	}
	// RADIUS closes first: the switch's shutdown has sent every call's
	// Stop records, which it may still be delivering or queueing.
	radius, err := startRadius(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer radius.Close()
	records.recoverCalls(ctx, radius.acct, log)
	journal, stopJournal := startSharedJournal(ctx, cfg, records, radius.acct, log)
	defer stopJournal()
	opts := b2bua.Options{Log: log, Sink: journal, Journal: journal, Gate: records, Media: media.relays(), AAA: radius.AAA}
	opts.TranscoderUse = media.transcoderUse()
	if cfg.Registration.Mode == config.RegistrationLocal {
		// The local registrar's challenges; a REGISTER's nonce is its own,
		// whatever RADIUS does with calls.
		opts.RegistrarNonces = aaa.NewNonces(aaa.NonceConfig{})
	}
	procs := newProcsTuner(log)
	if procs != nil {
		opts.OnDatagram = procs.poke
	}
	sw, err := b2bua.New(cfg, opts)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	media.bind(sw)
	// After the switch and the relay are made: they size what is per core
	// from the runtime's default GOMAXPROCS, which the tuner changes.
	if procs != nil {
		procs.start(ctx)
	}
	if records.pool != nil {
		go routing.NewStore(records.pool).Follow(ctx, routesPoll, log, sw.SetRoutes)
		if cfg.Registration.Mode == config.RegistrationLocal {
			realm := func() string { return sw.Config().Registration.Realm }
			go subscriber.NewStore(records.pool).Follow(ctx, routesPoll, realm, log, sw.SetSubscribers)
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- sw.Serve(ctx) }()
	dynauth, err := startDynAuth(cfg, sw, records.pool, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	if dynauth != nil {
		defer dynauth.Close()
	}
	stopWeb, err := startWeb(ctx, cfg, path, sw, records, media, radius, dynauth, log)
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
				if path == "" {
					log.Warn("SIGHUP: no configuration file to reload (serve --gateway)")
					continue
				}
				reload(sw, gc, path, log)
				continue
			}
			switch sig {
			case syscall.SIGUSR1:
				// Out of a dispatcher's rotation, for maintenance: its OPTIONS
				// probes get 503, calls up carry on.
				sw.Drain()
				log.Info("draining: new calls refused, calls up carry on", "active", sw.ActiveCalls())
				continue
			case syscall.SIGUSR2:
				sw.Resume()
				log.Info("taking calls again", "admission", sw.Admission().String())
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			sctx, cancel := context.WithTimeout(context.Background(), sw.Config().Timers.Drain+10*time.Second)
			sw.Shutdown(sctx)
			cancel()
			records.Flush(10 * time.Second)
			stop()
			records.recovering.Wait()
			<-serveErr
			sw.Close()
			log.Info("stopped")
			return 0
		}
	}
}

// routesPoll is how often the routing tables are read: a change made in
// the UI or the API reaches new calls within it.
const routesPoll = 500 * time.Millisecond

// reload applies a new configuration file, or keeps the running one when
// the file is wrong.
func reload(sw *b2bua.Switch, gc *gcTuner, path string, log *slog.Logger) {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("configuration reload refused; keeping the running one", "error", err)
		return
	}
	gc.apply(cfg.Runtime)
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

// startPprof serves the runtime's profiles on addr, for measuring the switch
// under load (docs/benchmarks.md). It is off unless -pprof is given: the
// profiles reveal the process's internals, so the address should be loopback.
// The block and mutex profiles sample few enough events (about one per
// millisecond blocked, one contention in a thousand) not to change what is
// measured.
func startPprof(addr string, log *slog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("pprof listener: %w", err)
	}
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(1000)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener stopped", "error", err)
		}
	}()
	log.Warn("runtime profiles served", "address", ln.Addr().String())
	return ln.Addr(), func() { srv.Close() }, nil
}
