package main

import (
	"context"
	"log/slog"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/cluster"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
	"github.com/tollgate/tollgate/switch/b2bua"
	"github.com/tollgate/tollgate/web"
)

// startWeb runs the admin UI, API and /metrics beside the switch. The
// returned function stops it and waits. An address that cannot be bound or
// a certificate that does not load fails the start: a process running on
// without the UI it was configured with looks healthy to systemd and to
// its operator, who then finds no UI.
//
// In a cluster (cluster.redis) the node also answers the other nodes'
// questions about its calls and health, even with its own UI disabled, so
// that every node's UI shows the whole cluster.
func startWeb(ctx context.Context, cfg *config.Config, path string, sw *b2bua.Switch, records *cdrPipe, media *media, radius *radius, dynauth *aaa.DynAuthServer, log *slog.Logger) (func(), error) {
	peers, stopPeers := startPeers(ctx, cfg.Cluster, sw, log)
	if cfg.Web.Disable {
		return stopPeers, nil
	}
	o := web.Options{
		Log: log, Switch: sw, DB: records.pool, Web: cfg.Web, Node: cfg.Cluster.Node,
		Spool:   func() cdr.SpoolStats { return records.spool.Stats() },
		Shipper: records.shipper.Stats,
		Reload: func() error {
			c, err := config.Load(path)
			if err != nil {
				return err
			}
			sw.Reload(c)
			return nil
		},
	}
	if peers != nil {
		o.Cluster = peers
	}
	o.LimitRefusals = radius.LimitRefusals
	if radius.queue != nil {
		o.AcctQueue = radius.queue.Stats
	}
	if len(radius.ServerStats()) > 0 {
		o.Radius = radius.ServerStats
	}
	if dynauth != nil {
		o.DynAuth = dynauth.Stats
	}
	if media != nil {
		o.Relays = func() map[string][]rtpproxyctl.RelayStatus {
			out := map[string][]rtpproxyctl.RelayStatus{}
			if st := media.Status(config.MediaRTPProxy); len(st) > 0 {
				out[config.MediaRTPProxy] = st
			}
			return out
		}
		if b := media.builtin; b != nil {
			o.Builtin = func() relay.Stats { return b.Stats() }
		}
	}
	srv, err := web.New(o)
	if err != nil {
		stopPeers()
		return nil, err
	}
	ln, err := web.Listen(cfg.Web.Listen, cfg.Web.TLSCert, cfg.Web.TLSKey)
	if err != nil {
		srv.Close()
		stopPeers()
		return nil, err
	}
	log.Info("web UI listening", "address", ln.Addr().String(), "tls", cfg.Web.TLSCert != "")
	if msg := web.PlainHTTPWarning(cfg.Web); msg != "" {
		log.Warn(msg, "address", ln.Addr().String())
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go srv.Run(ctx)
	go func() {
		defer close(done)
		if err := web.Serve(ctx, ln, srv.Handler(), log); err != nil {
			log.Error("web UI stopped", "error", err)
		}
	}()
	if records.pool == nil {
		log.Warn("web UI without a database: it will only say that it needs one (set cdr.database)")
	}
	return func() {
		cancel()
		<-done
		srv.Close()
		stopPeers()
	}, nil
}

// startPeers runs this node's side of the cluster view (package cluster)
// when cluster.redis is configured; nil without.
func startPeers(ctx context.Context, c config.Cluster, sw *b2bua.Switch, log *slog.Logger) (*cluster.Peers, func()) {
	if !c.Shared() {
		return nil, func() {}
	}
	rdb := newRedis(c)
	p := cluster.New(sw, cluster.Options{Redis: rdb, Node: c.Node, DeadAfter: c.DeadAfter, Logger: log})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	return p, func() { cancel(); <-done; rdb.Close() }
}
