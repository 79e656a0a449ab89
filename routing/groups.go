package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate/config"
)

// Group is a gateway group: gateways that a route hunts as one entry
// ("group:NAME" among its gateways), each call trying them in an order
// drawn by weight, lower priority tiers first (config.GatewayGroup).
type Group struct {
	ID        int64         `json:"id"`
	Name      string        `json:"name"`
	Members   []GroupMember `json:"members"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// GroupMember is one gateway of a group, by name, with its weight (0 to
// config.MaxGroupWeight; 0: standby, tried last in its tier) and its
// priority tier (lower first).
type GroupMember struct {
	Gateway  string `json:"gateway"`
	Weight   int    `json:"weight"`
	Priority int    `json:"priority"`
}

// UnmarshalJSON gives a member without a weight the default one, as the
// configuration file does: members without weights share calls equally.
func (m *GroupMember) UnmarshalJSON(b []byte) error {
	type plain GroupMember
	p := plain{Weight: config.DefaultGroupWeight}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = GroupMember(p)
	return nil
}

// Validate checks a group as given by a user, after trimming spaces.
func (g *Group) Validate() error {
	g.Name = strings.TrimSpace(g.Name)
	errs := FieldErrors{}
	checkName(errs, g.Name)
	if len(g.Members) == 0 {
		errs["members"] = "a group needs at least one gateway"
	}
	seen := map[string]bool{}
	for i := range g.Members {
		m := &g.Members[i]
		m.Gateway = strings.TrimSpace(m.Gateway)
		switch {
		case m.Gateway == "":
			errs["members"] = fmt.Sprintf("member %d: name a gateway", i+1)
		case seen[m.Gateway]:
			errs["members"] = fmt.Sprintf("%q is listed twice", m.Gateway)
		case m.Weight < 0 || m.Weight > config.MaxGroupWeight:
			errs["members"] = fmt.Sprintf("%s: weight %d: want 0 (standby) to %d", m.Gateway, m.Weight, config.MaxGroupWeight)
		case m.Priority < 0 || m.Priority > config.MaxGroupPriority:
			errs["members"] = fmt.Sprintf("%s: priority %d: want 0 (first) to %d", m.Gateway, m.Priority, config.MaxGroupPriority)
		}
		seen[m.Gateway] = true
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

const groupCols = `gg.id, gg.name, gg.updated_at,
	ARRAY(SELECT g.name FROM gateway_group_members m JOIN gateways g ON g.id = m.gateway_id
		WHERE m.group_id = gg.id ORDER BY m.position),
	ARRAY(SELECT m.weight FROM gateway_group_members m WHERE m.group_id = gg.id ORDER BY m.position),
	ARRAY(SELECT m.priority FROM gateway_group_members m WHERE m.group_id = gg.id ORDER BY m.position)`

func scanGroup(row pgx.Row) (Group, error) {
	var g Group
	var names []string
	var weights, prios []int
	err := row.Scan(&g.ID, &g.Name, &g.UpdatedAt, &names, &weights, &prios)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, ErrNotFound
	}
	g.Members = make([]GroupMember, len(names))
	for i := range names {
		g.Members[i] = GroupMember{Gateway: names[i], Weight: weights[i], Priority: prios[i]}
	}
	return g, err
}

// Groups lists every gateway group by name.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	rows, err := s.db.Query(ctx, "SELECT "+groupCols+" FROM gateway_groups gg ORDER BY gg.name")
	if err != nil {
		return nil, fmt.Errorf("gateway groups: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) { return scanGroup(r) })
	if err != nil {
		return nil, fmt.Errorf("gateway groups: %w", err)
	}
	return out, nil
}

// Group returns one gateway group.
func (s *Store) Group(ctx context.Context, id int64) (Group, error) {
	return scanGroup(s.db.QueryRow(ctx, "SELECT "+groupCols+" FROM gateway_groups gg WHERE gg.id = $1", id))
}

// CreateGroup validates and stores g, and returns it as stored.
func (s *Store) CreateGroup(ctx context.Context, g Group) (Group, error) {
	if err := g.Validate(); err != nil {
		return Group{}, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "INSERT INTO gateway_groups (name) VALUES ($1) RETURNING id", g.Name).Scan(&id); err != nil {
			return err
		}
		return setMembers(ctx, tx, id, g.Members)
	})
	if err != nil {
		return Group{}, storeErr("gateway group", err)
	}
	return s.Group(ctx, id)
}

// UpdateGroup validates and stores g over the group g.ID, and returns the
// group before and after.
func (s *Store) UpdateGroup(ctx context.Context, g Group) (before, after Group, err error) {
	if err := g.Validate(); err != nil {
		return before, after, err
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if before, err = scanGroup(tx.QueryRow(ctx, "SELECT "+groupCols+" FROM gateway_groups gg WHERE gg.id = $1 FOR UPDATE", g.ID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE gateway_groups SET name = $2, updated_at = now() WHERE id = $1", g.ID, g.Name); err != nil {
			return err
		}
		return setMembers(ctx, tx, g.ID, g.Members)
	})
	if err != nil {
		return before, after, storeErr("gateway group", err)
	}
	after, err = s.Group(ctx, g.ID)
	return before, after, err
}

// DeleteGroup deletes a group no route uses, and returns it.
func (s *Store) DeleteGroup(ctx context.Context, id int64) (Group, error) {
	var g Group
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if g, err = scanGroup(tx.QueryRow(ctx, "SELECT "+groupCols+" FROM gateway_groups gg WHERE gg.id = $1 FOR UPDATE", id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM gateway_groups WHERE id = $1", id)
		return err
	})
	return g, storeErr("gateway group", err)
}

// setMembers replaces a group's members with the named gateways.
func setMembers(ctx context.Context, tx pgx.Tx, group int64, ms []GroupMember) error {
	if _, err := tx.Exec(ctx, "DELETE FROM gateway_group_members WHERE group_id = $1", group); err != nil {
		return err
	}
	for i, m := range ms {
		tag, err := tx.Exec(ctx, `INSERT INTO gateway_group_members (group_id, position, gateway_id, weight, priority)
			SELECT $1, $2, id, $4, $5 FROM gateways WHERE name = $3`, group, i, m.Gateway, m.Weight, m.Priority)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return FieldErrors{"members": fmt.Sprintf("no gateway named %q", m.Gateway)}
		}
	}
	return nil
}

// activeGroups returns every group's enabled members as the switch hunts
// them, by group id. A disabled gateway is not in its groups: the hunt
// never tries it.
func activeGroups(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[int64][]config.Member, error) {
	rows, err := q.Query(ctx, `SELECT m.group_id, m.weight, m.priority,
		g.address, g.transport, g.udp_only, g.auth_user, g.auth_password, g.probe, g.max_calls, g.max_cps, g.media
		FROM gateway_group_members m JOIN gateways g ON g.id = m.gateway_id AND g.enabled
		ORDER BY m.group_id, m.position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]config.Member{}
	for rows.Next() {
		var id int64
		var m config.Member
		gw := &m.Gateway
		if err := rows.Scan(&id, &m.Weight, &m.Priority, &gw.Address, &gw.Transport, &gw.UDPOnly, &gw.AuthUser,
			&gw.AuthPassword, &gw.Probe, &gw.MaxCalls, &gw.MaxCPS, &gw.Media); err != nil {
			return nil, err
		}
		out[id] = append(out[id], m)
	}
	return out, rows.Err()
}
