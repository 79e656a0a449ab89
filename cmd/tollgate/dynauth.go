package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/b2bua"
	"github.com/tollgate/tollgate/web"
)

// startDynAuth runs the RADIUS Disconnect/CoA listener (RFC 5176) of the
// configuration for sw; nil when none is configured. It may end calls
// while the switch drains, as an administrator may.
func startDynAuth(cfg *config.Config, sw *b2bua.Switch, db *pgxpool.Pool, log *slog.Logger) (*aaa.DynAuthServer, error) {
	d := cfg.Radius.DynamicAuthorization
	if !d.Enabled() {
		return nil, nil
	}
	clients := make([]aaa.DynAuthClient, len(d.Clients))
	for i, c := range d.Clients {
		addr, _ := netip.ParseAddr(c.Address) // validated by config
		clients[i] = aaa.DynAuthClient{Addr: addr, Secret: c.Secret}
		if c.MessageAuthenticator == config.MessageAuthOptional {
			clients[i].MessageAuth = aaa.MessageAuthOptional
		}
	}
	log = log.With("component", "radius-dynauth")
	srv, err := aaa.ListenDynAuth(aaa.DynAuthConfig{Listen: d.Addr(), Clients: clients, Logger: log},
		auditedDynAuth{sw: sw, db: db, log: log})
	if err != nil {
		return nil, err
	}
	log.Info("RADIUS dynamic authorisation listening", "address", srv.Addr().String(), "clients", len(clients))
	return srv, nil
}

// auditedDynAuth is the switch as the listener's handler, writing every
// call a billing server ends or changes to the audit log, as the web UI
// does for an administrator's kill: the client's address is the actor.
type auditedDynAuth struct {
	sw  *b2bua.Switch
	db  *pgxpool.Pool // nil without a database: the log line is all
	log *slog.Logger
}

func (a auditedDynAuth) Disconnect(r aaa.DynAuthRequest) ([]string, error) {
	ids, err := a.sw.Disconnect(r)
	a.audit(web.AuditRadiusDisconnect, r, ids, fmt.Sprintf("Disconnect-Request %+v", r.Selector))
	return ids, err
}

func (a auditedDynAuth) Change(r aaa.DynAuthRequest) ([]string, error) {
	ids, err := a.sw.Change(r)
	detail := "CoA-Request:"
	if r.Change.HasCreditTime {
		detail += fmt.Sprintf(" credit left %v", r.Change.CreditTime)
	}
	if r.Change.Interim > 0 {
		detail += fmt.Sprintf(" interim %v", r.Change.Interim)
	}
	a.audit(web.AuditRadiusCoA, r, ids, detail)
	return ids, err
}

// auditTimeout bounds one audit write: the listener's answer waits for it.
const auditTimeout = 5 * time.Second

func (a auditedDynAuth) audit(action string, r aaa.DynAuthRequest, ids []string, detail string) {
	for _, id := range ids {
		a.log.Info("audit", "action", action, "call", id, "client", r.Client, "detail", detail)
		if a.db == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
		err := web.WriteAudit(ctx, a.db, web.AuditEntry{Actor: "radius " + r.Client, Action: action,
			Target: id, Detail: detail, IP: r.Client})
		cancel()
		if err != nil {
			a.log.Error("audit log not written", "action", action, "call", id, "error", err)
		}
	}
}
