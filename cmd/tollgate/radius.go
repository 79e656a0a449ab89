package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/b2bua"
)

// radius is serve's AAA: the limits, and the RADIUS clients, accounting
// queue and resender of the configuration, built here and handed to the
// switch as the interfaces it declares (b2bua.AAAOptions). RADIUS changes
// need a restart.
type radius struct {
	*b2bua.AAA
	stopRun context.CancelFunc
	runDone chan struct{}
	closers []func() error
	clients []*aaa.Client   // auth, then accounting: their counters for the UI
	acct    *aaa.Accountant // nil without accounting servers
	queue   *aaa.Queue      // nil without accounting servers
}

// startRadius builds the AAA of cfg and starts resending the accounting
// records an earlier run queued. Close it after the switch has shut down.
func startRadius(ctx context.Context, cfg *config.Config, log *slog.Logger) (*radius, error) {
	a := &radius{}
	lim, stopLimits := limiter(ctx, cfg, log)
	a.closers = append(a.closers, func() error { stopLimits(); return nil })
	o := b2bua.AAAOptions{Limits: lim}
	r := cfg.Radius
	nas, _ := netip.ParseAddr(r.NASIPAddress) // validated by config
	if len(r.AuthServers) > 0 {
		servers, err := radiusServers(r.AuthServers)
		if err != nil {
			a.closeBackends()
			return nil, fmt.Errorf("radius auth: %w", err)
		}
		c, err := aaa.NewClient(aaa.ClientConfig{Servers: servers, RoundRobin: r.RoundRobin,
			ProbeInterval: r.ProbeInterval, StatusInterval: r.StatusInterval, Logger: log.With("component", "radius-auth")})
		if err != nil {
			return nil, fmt.Errorf("radius auth: %w", err)
		}
		a.closers = append(a.closers, c.Close)
		a.clients = append(a.clients, c)
		codes := aaa.DefaultReturnCodes()
		for rc, s := range r.ReturnCodes {
			codes[rc] = aaa.SIPStatus{Code: s.Code, Reason: s.Reason}
		}
		o.Auth = aaa.NewAuthorizer(c, aaa.AuthConfig{IPPassword: r.IPPassword, NASIPAddress: nas, Node: cfg.Cluster.Node, ReturnCodes: codes})
		o.Nonces = aaa.NewNonces(aaa.NonceConfig{Lifetime: r.NonceLifetime})
	}
	if len(r.AcctServers) > 0 {
		servers, err := radiusServers(r.AcctServers)
		if err != nil {
			a.closeBackends()
			return nil, fmt.Errorf("radius accounting: %w", err)
		}
		c, err := aaa.NewClient(aaa.ClientConfig{Servers: servers, RoundRobin: r.RoundRobin,
			ProbeInterval: r.ProbeInterval, StatusInterval: r.StatusInterval, Logger: log.With("component", "radius-acct")})
		if err != nil {
			a.closeBackends()
			return nil, fmt.Errorf("radius accounting: %w", err)
		}
		a.closers = append(a.closers, c.Close)
		a.clients = append(a.clients, c)
		q, err := aaa.OpenQueue(r.Accounting.QueueDir)
		if err != nil {
			a.closeBackends()
			return nil, fmt.Errorf("radius accounting: %w", err)
		}
		a.closers = append(a.closers, q.Close)
		acct := aaa.NewAccountant(c, q, aaa.AccountingConfig{SessionIDPerLeg: r.Accounting.SessionIDPerLeg,
			NASIPAddress: nas, Node: cfg.Cluster.Node, Logger: log.With("component", "radius-acct")})
		o.Acct, o.Queue, a.acct, a.queue = acct, q, acct, q
		var runCtx context.Context
		runCtx, a.stopRun = context.WithCancel(ctx)
		a.runDone = make(chan struct{})
		go func() {
			defer close(a.runDone)
			acct.Run(runCtx)
		}()
		if n := q.Len(); n > 0 {
			log.Info("radius: resending accounting records queued by an earlier run", "records", n)
		}
	}
	a.AAA = b2bua.NewAAA(log, o)
	return a, nil
}

// radiusServers converts configured servers, loading RadSec certificates;
// secrets pass through, never logged.
func radiusServers(in []config.RadiusServer) ([]aaa.ServerConfig, error) {
	out := make([]aaa.ServerConfig, len(in))
	for i, s := range in {
		out[i] = aaa.ServerConfig{Addr: s.Address, Secret: s.Secret, Timeout: s.Timeout, Retries: s.Retries,
			RequireMessageAuthenticator: s.RequireMessageAuthenticator}
		if s.Transport == config.TransportTLS {
			t, err := aaa.RadSecTLS(s.TLS.CAFile, s.TLS.ServerName, s.TLS.CertFile, s.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.Address, err)
			}
			out[i].Transport, out[i].TLS = aaa.TransportTLS, t
		}
	}
	return out, nil
}

// ServerStats are the counters of every RADIUS server, auth servers first.
func (a *radius) ServerStats() []aaa.ServerStats {
	var out []aaa.ServerStats
	for _, c := range a.clients {
		out = append(out, c.Stats()...)
	}
	return out
}

// Close waits for the switch's accounting records in flight (queueing on
// disk those no server took within a grace period), stops the resender and
// closes the RADIUS sockets and the queue.
func (a *radius) Close() error {
	a.AAA.Close()
	return a.closeBackends()
}

func (a *radius) closeBackends() error {
	if a.stopRun != nil {
		a.stopRun()
		<-a.runDone
	}
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
