package routing

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/config"
)

// Active returns the enabled routes with their enabled gateways in hunt
// order, and their gateway groups with the groups' enabled members, as the
// switch reads routes, by id: the oldest first, which is the
// route-choosing rule's last tie-break. A route whose gateways are all disabled stays, with
// no gateway: its calls fail rather than silently falling through to a
// shorter prefix the operator did not choose. Routes and groups are read
// in one snapshot, so a change to both is seen whole.
func (s *Store) Active(ctx context.Context) ([]config.Route, error) {
	var out []config.Route
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		groups, err := activeGroups(ctx, tx)
		if err != nil {
			return err
		}
		out, err = activeRoutes(ctx, tx, groups)
		return err
	})
	return out, err
}

func activeRoutes(ctx context.Context, tx pgx.Tx, groups map[int64][]config.Member) ([]config.Route, error) {
	rows, err := tx.Query(ctx, `SELECT r.id, r.name, r.prefix, r.caller_prefix, r.source, r.interface, r.selected_profile, r.priority,
		r.hunt_stop, r.no_progress_ms, r.max_ring_ms,
		g.address, g.transport, g.udp_only, g.auth_user, g.auth_password, g.probe, g.max_calls, g.max_cps, g.media,
		gg.id, gg.name
		FROM routes r
		LEFT JOIN route_gateways rg ON rg.route_id = r.id
		LEFT JOIN gateways g ON g.id = rg.gateway_id AND g.enabled
		LEFT JOIN gateway_groups gg ON gg.id = rg.group_id
		WHERE r.enabled ORDER BY r.id, rg.position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []config.Route
	var lastID int64
	for rows.Next() {
		var r config.Route
		var id, np, ring int64
		var addr, transport, user, password, media, group *string
		var udpOnly, probe *bool
		var maxCalls *int
		var maxCPS *float64
		var groupID *int64
		if err := rows.Scan(&id, &r.Name, &r.Prefix, &r.CallerPrefix, &r.Source, &r.Interface, &r.SelectedProfile, &r.Priority,
			&r.HuntStop, &np, &ring, &addr, &transport, &udpOnly, &user, &password,
			&probe, &maxCalls, &maxCPS, &media, &groupID, &group); err != nil {
			return nil, err
		}
		if len(out) == 0 || id != lastID {
			lastID = id
			r.NoProgress, r.MaxRing = time.Duration(np)*time.Millisecond, time.Duration(ring)*time.Millisecond
			out = append(out, r)
		}
		last := &out[len(out)-1]
		switch {
		case addr != nil:
			last.Gateways = append(last.Gateways, config.Gateway{Address: *addr, Transport: *transport,
				UDPOnly: *udpOnly, AuthUser: *user, AuthPassword: *password, Probe: *probe, MaxCalls: *maxCalls, MaxCPS: *maxCPS,
				Media: *media})
		case groupID != nil:
			last.Gateways = append(last.Gateways, config.Gateway{Group: *group, Members: groups[*groupID]})
		}
	}
	return out, rows.Err()
}

// Follow hands apply the active routes at once and then whenever they
// change, until ctx ends. It polls every interval rather than waiting for a
// NOTIFY: a poll of a few small tables costs nothing, and it needs no
// connection held open nor a trigger that another Tollgate of the cluster
// might miss. While PostgreSQL does not answer the switch keeps the routes
// it has: a database outage must not stop calls from being routed.
func (s *Store) Follow(ctx context.Context, interval time.Duration, log *slog.Logger, apply func([]config.Route)) {
	var last []config.Route
	first, failing := true, false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		routes, err := s.Active(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("routes from the database: keeping the last ones", "error", err)
			failing = true
		case err == nil:
			if failing {
				log.Info("routes from the database: read again")
				failing = false
			}
			if first || !reflect.DeepEqual(routes, last) {
				apply(routes)
				last, first = routes, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
