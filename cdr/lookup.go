package cdr

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotFound is ByID's answer when no CDR has the id.
var ErrNotFound = errors.New("cdr: no such record")

// ByID returns the CDR with id (a UUID), through the primary key.
func ByID(ctx context.Context, db Querier, id string) (Record, error) {
	rows, err := db.Query(ctx, "SELECT "+columnList+" FROM cdrs WHERE id = $1::uuid", queryMode, id)
	if err != nil {
		return Record{}, fmt.Errorf("cdr: lookup: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Record{}, fmt.Errorf("cdr: lookup: %w", err)
		}
		return Record{}, ErrNotFound
	}
	return newScanner().scan(rows)
}
