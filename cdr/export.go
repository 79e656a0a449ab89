package cdr

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what Search and Export need from PostgreSQL: a *pgxpool.Pool,
// a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Filter selects CDRs. Zero fields do not filter.
type Filter struct {
	From, To     time.Time // setup time in [From, To)
	CallerPrefix string
	CalledPrefix string // matches the number as received or as sent
	Account      string
	Gateway      string
	SIPCode      int
	Q850Cause    int    // 1-127; 0 does not filter
	CallID       string // either leg's Call-ID
	ConfID       string
	Reason       string // disconnect_reason, exactly
	ReleasedBy   string // caller, callee or switch
	SourceIP     string // the caller's address
	Route        string // the route's name
	// MinDuration and MaxDuration bound the connected time, inclusive;
	// zero does not bound.
	MinDuration, MaxDuration time.Duration
}

// where renders f as a WHERE clause with numbered parameters.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.From.IsZero() {
		conds = append(conds, "setup_time >= "+arg(f.From)+"::timestamptz")
	}
	if !f.To.IsZero() {
		conds = append(conds, "setup_time < "+arg(f.To)+"::timestamptz")
	}
	if f.CallerPrefix != "" {
		conds = append(conds, "caller_number LIKE "+arg(likePrefix(f.CallerPrefix)))
	}
	if f.CalledPrefix != "" {
		p := arg(likePrefix(f.CalledPrefix))
		conds = append(conds, "(called_received LIKE "+p+" OR called_sent LIKE "+p+")")
	}
	if f.Account != "" {
		conds = append(conds, "account = "+arg(f.Account))
	}
	if f.Gateway != "" {
		conds = append(conds, "gateway = "+arg(f.Gateway))
	}
	if f.SIPCode != 0 {
		conds = append(conds, "sip_code = "+arg(f.SIPCode)+"::integer")
	}
	if f.Q850Cause != 0 {
		conds = append(conds, "q850_cause = "+arg(f.Q850Cause)+"::integer")
	}
	if f.CallID != "" {
		p := arg(f.CallID)
		conds = append(conds, "(call_id_a = "+p+" OR (call_id_b = "+p+" AND call_id_b <> ''))")
	}
	if f.ConfID != "" {
		conds = append(conds, "(conf_id = "+arg(f.ConfID)+" AND conf_id <> '')")
	}
	for _, c := range []struct{ col, v string }{
		{"disconnect_reason", f.Reason}, {"released_by", f.ReleasedBy}, {"source_ip", f.SourceIP}, {"route", f.Route},
	} {
		if c.v != "" {
			conds = append(conds, c.col+" = "+arg(c.v))
		}
	}
	if f.MinDuration > 0 {
		conds = append(conds, "duration_ms >= "+arg(f.MinDuration.Milliseconds())+"::bigint")
	}
	if f.MaxDuration > 0 {
		conds = append(conds, "duration_ms <= "+arg(f.MaxDuration.Milliseconds())+"::bigint")
	}
	if len(conds) == 0 {
		return "TRUE", args
	}
	return strings.Join(conds, " AND "), args
}

// likePrefix escapes LIKE's wildcards in a user's prefix.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// Queries run in exec mode (unnamed statements): PostgreSQL then plans them
// with the actual prefix, so LIKE 'prefix%' uses the text_pattern_ops
// indexes; a cached generic plan could not.
const queryMode = pgx.QueryExecModeExec

// Page asks Search for one page of results.
type Page struct {
	Limit  int    // default 50, at most 1000
	Cursor string // "" for the first page; then the cursor Search returned
}

// Search returns one page of CDRs matching f, newest first, and the cursor
// of the next page ("" when this is the last). Paging is by key (setup time,
// id) rather than OFFSET, so page 10,000 costs what page 1 does.
func Search(ctx context.Context, db Querier, f Filter, page Page) ([]Record, string, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	where, args := f.where()
	if page.Cursor != "" {
		t, id, err := decodeCursor(page.Cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, t, id)
		where += fmt.Sprintf(" AND (setup_time, id) < ($%d::timestamptz, $%d::uuid)", len(args)-1, len(args))
	}
	args = append(args, limit+1)
	sql := fmt.Sprintf("SELECT %s FROM cdrs WHERE %s ORDER BY setup_time DESC, id DESC LIMIT $%d::integer", columnList, where, len(args))
	rows, err := db.Query(ctx, sql, append([]any{queryMode}, args...)...)
	if err != nil {
		return nil, "", fmt.Errorf("cdr: search: %w", err)
	}
	defer rows.Close()
	sc := newScanner()
	var out []Record
	for rows.Next() {
		rec, err := sc.scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("cdr: search: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(last.SetupTime, last.ID)
	}
	return out, next, nil
}

// A cursor is the (setup time, id) of the last row shown, opaque to callers.
func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "/" + id))
}

var errBadCursor = errors.New("cdr: bad page cursor")

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	us, id, ok := strings.Cut(string(b), "/")
	micros, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || !isUUID(id) {
		return time.Time{}, "", errBadCursor
	}
	return time.UnixMicro(micros).UTC(), id, nil
}

// Export writes the CDRs matching f as CSV (RFC 4180: CRLF line ends, a
// header row of column names), oldest first. Rows stream from PostgreSQL to w
// one at a time, so an export of millions of CDRs holds only one in memory.
func Export(ctx context.Context, db Querier, f Filter, w io.Writer) error {
	where, args := f.where()
	sql := fmt.Sprintf("SELECT %s FROM cdrs WHERE %s ORDER BY setup_time, id", columnList, where)
	rows, err := db.Query(ctx, sql, append([]any{queryMode}, args...)...)
	if err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(columns); err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	sc := newScanner()
	var row []string
	for rows.Next() {
		rec, err := sc.scan(rows)
		if err != nil {
			return err
		}
		row = csvRow(rec, row)
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("cdr: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	return nil
}
