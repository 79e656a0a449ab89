// Package subscriber holds the local registrar's accounts kept in
// PostgreSQL, beside those of the configuration file: all the SQL of the
// subscribers table, and the loop that hands the switch the current set.
// An account is kept as its digest HA1, never as its password
// (migrations/00014_subscribers.sql says why).
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/aaa"
)

// Store is the SQL of the subscribers table.
type Store struct{ db *pgxpool.Pool }

// NewStore uses db, migrated to include migrations/00014_subscribers.sql.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Subscriber is one account, without its secret.
type Subscriber struct {
	ID        int64     `json:"id"`
	User      string    `json:"user"`
	Realm     string    `json:"realm"`
	CreatedAt time.Time `json:"created_at"`
}

// Errors a caller turns into answers.
var (
	ErrExists   = errors.New("subscriber: the user exists")
	ErrNotFound = errors.New("subscriber: no such user")
	ErrBadUser  = errors.New("subscriber: want a SIP user name (no @ : ; < > or space) and a password")
)

// Add creates user in realm with password, keeping its HA1 only.
func (s *Store) Add(ctx context.Context, user, realm, password string) (Subscriber, error) {
	if !validUser(user) || password == "" || realm == "" {
		return Subscriber{}, ErrBadUser
	}
	sub := Subscriber{User: user, Realm: realm}
	err := s.db.QueryRow(ctx, `INSERT INTO subscribers (username, realm, ha1) VALUES ($1, $2, $3)
		RETURNING id, created_at`, user, realm, aaa.HA1(user, realm, password)).Scan(&sub.ID, &sub.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return Subscriber{}, ErrExists
	}
	if err != nil {
		return Subscriber{}, fmt.Errorf("subscriber add: %w", err)
	}
	return sub, nil
}

// List returns every subscriber by user name.
func (s *Store) List(ctx context.Context) ([]Subscriber, error) {
	rows, err := s.db.Query(ctx, "SELECT id, username, realm, created_at FROM subscribers ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscriber, error) {
		var sub Subscriber
		err := r.Scan(&sub.ID, &sub.User, &sub.Realm, &sub.CreatedAt)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	return out, nil
}

// Delete removes user.
func (s *Store) Delete(ctx context.Context, user string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM subscribers WHERE username = $1", user)
	if err != nil {
		return fmt.Errorf("subscriber delete: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// HA1s are the secrets of the subscribers of realm, by user: what the
// registrar checks digests against. Those of another realm cannot answer
// its challenges and are left out.
func (s *Store) HA1s(ctx context.Context, realm string) (map[string]string, error) {
	rows, err := s.db.Query(ctx, "SELECT username, ha1 FROM subscribers WHERE realm = $1", realm)
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var user, ha1 string
		if err := rows.Scan(&user, &ha1); err != nil {
			return nil, fmt.Errorf("subscribers: %w", err)
		}
		out[user] = ha1
	}
	return out, rows.Err()
}

// Follow hands apply the HA1s of realm's subscribers at once and whenever
// they change, until ctx ends, polling every interval as routing.Follow
// does and for the same reasons. While PostgreSQL does not answer the
// registrar keeps the accounts it has: an outage must not lock
// registered phones out.
func (s *Store) Follow(ctx context.Context, interval time.Duration, realm func() string, log *slog.Logger, apply func(map[string]string)) {
	var last map[string]string
	first, failing := true, false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ha1s, err := s.HA1s(ctx, realm())
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("subscribers from the database: keeping the last ones", "error", err)
			failing = true
		case err == nil:
			if failing {
				log.Info("subscribers from the database: read again")
				failing = false
			}
			if first || !maps.Equal(ha1s, last) {
				apply(ha1s)
				last, first = ha1s, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func validUser(u string) bool {
	return u != "" && len(u) <= 128 && !strings.ContainsAny(u, "@:;<> \t\r\n")
}
