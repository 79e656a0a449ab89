package routing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/config"
)

// Store is the SQL of the gateways, routes and route_gateways tables.
type Store struct{ db *pgxpool.Pool }

// NewStore uses db, migrated to include migrations/00006_routing.sql.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const gatewayCols = "id, name, address, transport, udp_only, auth_user, auth_password <> '', probe, max_calls, max_cps, media, enabled, updated_at"

func scanGateway(row pgx.Row) (Gateway, error) {
	var g Gateway
	err := row.Scan(&g.ID, &g.Name, &g.Address, &g.Transport, &g.UDPOnly, &g.AuthUser, &g.HasPassword, &g.Probe, &g.MaxCalls, &g.MaxCPS, &g.Media, &g.Enabled, &g.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, ErrNotFound
	}
	return g, err
}

// Gateways lists every gateway by name, without passwords.
func (s *Store) Gateways(ctx context.Context) ([]Gateway, error) {
	rows, err := s.db.Query(ctx, "SELECT "+gatewayCols+" FROM gateways ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("gateways: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Gateway, error) { return scanGateway(r) })
	if err != nil {
		return nil, fmt.Errorf("gateways: %w", err)
	}
	return out, nil
}

// Gateway returns one gateway, without its password.
func (s *Store) Gateway(ctx context.Context, id int64) (Gateway, error) {
	return scanGateway(s.db.QueryRow(ctx, "SELECT "+gatewayCols+" FROM gateways WHERE id = $1", id))
}

// CreateGateway validates and stores g, and returns it as stored.
func (s *Store) CreateGateway(ctx context.Context, g Gateway) (Gateway, error) {
	if err := g.Validate(); err != nil {
		return Gateway{}, err
	}
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO gateways (name, address, transport, udp_only, auth_user, auth_password, probe, max_calls, max_cps, enabled, media)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		g.Name, g.Address, g.Transport, g.UDPOnly, g.AuthUser, g.AuthPassword, g.Probe, g.MaxCalls, g.MaxCPS, g.Enabled, g.Media).Scan(&id)
	if err != nil {
		return Gateway{}, storeErr("gateway", err)
	}
	return s.Gateway(ctx, id)
}

// UpdateGateway validates and stores g over the gateway g.ID, and returns
// the gateway before and after. A password left empty keeps the stored one
// while there is an auth_user; no auth_user clears it.
func (s *Store) UpdateGateway(ctx context.Context, g Gateway) (before, after Gateway, err error) {
	if err := g.Validate(); err != nil {
		return before, after, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if before, err = scanGateway(tx.QueryRow(ctx, "SELECT "+gatewayCols+" FROM gateways WHERE id = $1 FOR UPDATE", g.ID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE gateways SET name = $2, address = $3, transport = $4, udp_only = $5,
			auth_user = $6,
			auth_password = CASE WHEN $6 = '' THEN '' WHEN $7 = '' THEN auth_password ELSE $7 END,
			enabled = $8, probe = $9, max_calls = $10, max_cps = $11, media = $12, updated_at = now() WHERE id = $1`,
			g.ID, g.Name, g.Address, g.Transport, g.UDPOnly, g.AuthUser, g.AuthPassword, g.Enabled, g.Probe, g.MaxCalls, g.MaxCPS, g.Media)
		return err
	})
	if err != nil {
		return before, after, storeErr("gateway", err)
	}
	after, err = s.Gateway(ctx, g.ID)
	return before, after, err
}

// DeleteGateway deletes a gateway no route uses, and returns it.
func (s *Store) DeleteGateway(ctx context.Context, id int64) (Gateway, error) {
	g, err := scanGateway(s.db.QueryRow(ctx, "DELETE FROM gateways WHERE id = $1 RETURNING "+gatewayCols, id))
	return g, storeErr("gateway", err)
}

const routeCols = `r.id, r.name, r.prefix, r.caller_prefix, r.source, r.interface, r.selected_profile, r.priority,
	r.hunt_stop, r.no_progress_ms, r.max_ring_ms, r.enabled, r.updated_at,
	ARRAY(SELECT COALESCE(g.name, '` + config.GroupPrefix + `' || gg.name) FROM route_gateways rg
		LEFT JOIN gateways g ON g.id = rg.gateway_id LEFT JOIN gateway_groups gg ON gg.id = rg.group_id
		WHERE rg.route_id = r.id ORDER BY rg.position)`

func scanRoute(row pgx.Row) (Route, error) {
	var r Route
	var np, ring int64
	err := row.Scan(&r.ID, &r.Name, &r.Prefix, &r.CallerPrefix, &r.Source, &r.Interface, &r.SelectedProfile, &r.Priority,
		&r.HuntStop, &np, &ring, &r.Enabled, &r.UpdatedAt, &r.Gateways)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	r.NoProgress, r.MaxRing = Duration(time.Duration(np)*time.Millisecond), Duration(time.Duration(ring)*time.Millisecond)
	return r, err
}

// Routes lists every route by prefix, the highest priority first.
func (s *Store) Routes(ctx context.Context) ([]Route, error) {
	rows, err := s.db.Query(ctx, "SELECT "+routeCols+" FROM routes r ORDER BY r.prefix, r.priority DESC, r.caller_prefix DESC, r.name")
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Route, error) { return scanRoute(r) })
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return out, nil
}

// Route returns one route.
func (s *Store) Route(ctx context.Context, id int64) (Route, error) {
	return scanRoute(s.db.QueryRow(ctx, "SELECT "+routeCols+" FROM routes r WHERE r.id = $1", id))
}

// CreateRoute validates and stores r, and returns it as stored.
func (s *Store) CreateRoute(ctx context.Context, r Route) (Route, error) {
	if err := r.Validate(); err != nil {
		return Route{}, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO routes (name, prefix, caller_prefix, source, interface, selected_profile, priority,
			hunt_stop, no_progress_ms, max_ring_ms, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			r.Name, r.Prefix, r.CallerPrefix, r.Source, r.Interface, r.SelectedProfile, r.Priority,
			huntStop(r.HuntStop), ms(r.NoProgress), ms(r.MaxRing), r.Enabled).Scan(&id)
		if err != nil {
			return err
		}
		return setGateways(ctx, tx, id, r.Gateways)
	})
	if err != nil {
		return Route{}, storeErr("route", err)
	}
	return s.Route(ctx, id)
}

// UpdateRoute validates and stores r over the route r.ID, and returns the
// route before and after.
func (s *Store) UpdateRoute(ctx context.Context, r Route) (before, after Route, err error) {
	if err := r.Validate(); err != nil {
		return before, after, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if before, err = scanRoute(tx.QueryRow(ctx, "SELECT "+routeCols+" FROM routes r WHERE r.id = $1 FOR UPDATE", r.ID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE routes SET name = $2, prefix = $3, caller_prefix = $4, source = $5,
			interface = $6, selected_profile = $7, priority = $8, hunt_stop = $9, no_progress_ms = $10,
			max_ring_ms = $11, enabled = $12, updated_at = now() WHERE id = $1`,
			r.ID, r.Name, r.Prefix, r.CallerPrefix, r.Source, r.Interface, r.SelectedProfile, r.Priority,
			huntStop(r.HuntStop), ms(r.NoProgress), ms(r.MaxRing), r.Enabled)
		if err != nil {
			return err
		}
		return setGateways(ctx, tx, r.ID, r.Gateways)
	})
	if err != nil {
		return before, after, storeErr("route", err)
	}
	after, err = s.Route(ctx, r.ID)
	return before, after, err
}

// DeleteRoute deletes a route and returns it.
func (s *Store) DeleteRoute(ctx context.Context, id int64) (Route, error) {
	var r Route
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if r, err = scanRoute(tx.QueryRow(ctx, "SELECT "+routeCols+" FROM routes r WHERE r.id = $1 FOR UPDATE", id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM routes WHERE id = $1", id)
		return err
	})
	return r, storeErr("route", err)
}

// setGateways replaces a route's gateway list with the named gateways and
// groups ("group:NAME").
func setGateways(ctx context.Context, tx pgx.Tx, route int64, names []string) error {
	if _, err := tx.Exec(ctx, "DELETE FROM route_gateways WHERE route_id = $1", route); err != nil {
		return err
	}
	for i, name := range names {
		q, missing := `INSERT INTO route_gateways (route_id, position, gateway_id)
			SELECT $1, $2, id FROM gateways WHERE name = $3`, "no gateway named %q"
		if group, ok := strings.CutPrefix(name, config.GroupPrefix); ok {
			q, missing, name = `INSERT INTO route_gateways (route_id, position, group_id)
				SELECT $1, $2, id FROM gateway_groups WHERE name = $3`, "no gateway group named %q", group
		}
		tag, err := tx.Exec(ctx, q, route, i, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return FieldErrors{"gateways": fmt.Sprintf(missing, name)}
		}
	}
	return nil
}

// huntStop keeps an empty list empty rather than NULL: a route may stop on
// no code at all.
func huntStop(codes []int) []int {
	if codes == nil {
		return []int{}
	}
	return codes
}

func ms(d Duration) int64 { return time.Duration(d).Milliseconds() }

// storeErr turns PostgreSQL's refusals into what the user can act on.
func storeErr(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			if pe.ConstraintName == "routes_match" {
				return FieldErrors{"prefix": "another route already matches the same calls (the same prefix, caller prefix, source, interface and selected profile): give it other criteria, or edit that route"}
			}
			return FieldErrors{"name": "already used by another " + what}
		case "23503": // foreign_key_violation: a route or a group still uses it
			switch pe.ConstraintName {
			case "gateway_group_members_gateway_id_fkey":
				return ErrInGroup
			case "route_gateways_group_id_fkey":
				return ErrGroupInUse
			}
			return ErrInUse
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
