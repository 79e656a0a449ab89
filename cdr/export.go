package cdr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
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
	return f.whereAfter(nil)
}

// whereAfter renders f as a WHERE clause whose parameters follow args, for
// a statement that holds other parameters or several clauses.
func (f Filter) whereAfter(args []any) (string, []any) {
	var conds []string
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
	// Sort orders the page by one of SortKeys, then by setup time and id;
	// zero: newest first.
	Sort Sort
}

// Sort is a column to order a search by, from a fixed list: the user
// picks a name, never SQL.
type Sort struct {
	Key string // one of SortKeys; "" is "setup"
	Asc bool   // ascending; descending by default
}

// sortColumns are the orderable columns: the name a user gives, the
// column, its SQL type for the cursor's parameter, and its value in a
// record for the next page's cursor.
var sortColumns = map[string]struct {
	col, typ string
	value    func(Record) string
}{
	"setup":    {"setup_time", "timestamptz", func(r Record) string { return r.SetupTime.UTC().Format(time.RFC3339Nano) }},
	"duration": {"duration_ms", "bigint", func(r Record) string { return strconv.FormatInt(r.Duration.Milliseconds(), 10) }},
	"pdd":      {"post_dial_delay_ms", "bigint", func(r Record) string { return strconv.FormatInt(r.PostDialDelay.Milliseconds(), 10) }},
	"code":     {"sip_code", "integer", func(r Record) string { return strconv.Itoa(r.SIPCode) }},
	"caller":   {"caller_number", "text", func(r Record) string { return r.CallerNumber }},
	"called":   {"called_received", "text", func(r Record) string { return r.CalledReceived }},
	"account":  {"account", "text", func(r Record) string { return r.Account }},
	"gateway":  {"gateway", "text", func(r Record) string { return r.Gateway }},
}

// SortKeys are the names Sort.Key may take.
func SortKeys() []string { return slices.Sorted(maps.Keys(sortColumns)) }

// ErrBadSort refuses a Sort.Key outside SortKeys.
var ErrBadSort = errors.New("cdr: unknown sort column")

// Search returns one page of CDRs matching f in page.Sort's order (newest
// first by default), and the cursor of the next page ("" when this is the
// last). Paging is by key (sort column, setup time, id) rather than
// OFFSET, so page 10,000 costs what page 1 does.
func Search(ctx context.Context, db Querier, f Filter, page Page) ([]Record, string, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	key := page.Sort.Key
	if key == "" {
		key = "setup"
	}
	sc, ok := sortColumns[key]
	if !ok {
		return nil, "", ErrBadSort
	}
	dir, cmp := "DESC", "<"
	if page.Sort.Asc {
		dir, cmp = "ASC", ">"
	}
	where, args := f.where()
	if page.Cursor != "" {
		c, err := decodeCursor(page.Cursor)
		if err != nil || c.sort != page.Sort {
			return nil, "", ErrBadCursor
		}
		args = append(args, c.value, c.setup, c.id)
		where += fmt.Sprintf(" AND (%s, setup_time, id) %s ($%d::%s, $%d::timestamptz, $%d::uuid)",
			sc.col, cmp, len(args)-2, sc.typ, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	sql := fmt.Sprintf("SELECT %s FROM cdrs WHERE %s ORDER BY %s %s, setup_time %s, id %s LIMIT $%d::integer",
		columnList, where, sc.col, dir, dir, dir, len(args))
	rows, err := db.Query(ctx, sql, append([]any{queryMode}, args...)...)
	if err != nil {
		return nil, "", fmt.Errorf("cdr: search: %w", err)
	}
	defer rows.Close()
	scan := newScanner()
	var out []Record
	for rows.Next() {
		rec, err := scan.scan(rows)
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
		next = cursor{sort: page.Sort, value: sc.value(last), setup: last.SetupTime, id: last.ID}.encode()
	}
	return out, next, nil
}

// A cursor is where the last page ended: the last row's sort value, setup
// time and id, and the order it was in; opaque to callers. The default
// order's cursor is "micros/id", as before sorting existed.
type cursor struct {
	sort  Sort
	value string
	setup time.Time
	id    string
}

func (c cursor) encode() string {
	s := strconv.FormatInt(c.setup.UnixMicro(), 10) + "/" + c.id
	if c.sort != (Sort{}) {
		s += "/" + c.sort.Key + "/" + strconv.FormatBool(c.sort.Asc) + "/" + c.value
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ErrBadCursor refuses a cursor Search did not give, or gave for another
// order.
var ErrBadCursor = errors.New("cdr: bad page cursor")

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, ErrBadCursor
	}
	parts := strings.SplitN(string(b), "/", 5)
	if len(parts) != 2 && len(parts) != 5 {
		return cursor{}, ErrBadCursor
	}
	micros, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || !isUUID(parts[1]) {
		return cursor{}, ErrBadCursor
	}
	c := cursor{setup: time.UnixMicro(micros).UTC(), id: parts[1]}
	c.value = c.setup.Format(time.RFC3339Nano)
	if len(parts) == 5 {
		asc, err := strconv.ParseBool(parts[3])
		if _, ok := sortColumns[parts[2]]; !ok || err != nil {
			return cursor{}, ErrBadCursor
		}
		c.sort, c.value = Sort{Key: parts[2], Asc: asc}, parts[4]
	}
	return c, nil
}

// ValidCursor reports whether c is a cursor Search gave, so that a mangled
// one is refused before the query.
func ValidCursor(c string) bool {
	_, err := decodeCursor(c)
	return err == nil
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
	var out csvRows
	out.header()
	sc := newScanner()
	for rows.Next() {
		rec, err := sc.scan(rows)
		if err != nil {
			return err
		}
		out.row(&rec)
		if len(out.b) >= exportChunk {
			if _, err := w.Write(out.b); err != nil {
				return fmt.Errorf("cdr: export: %w", err)
			}
			out.b = out.b[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	if _, err := w.Write(out.b); err != nil {
		return fmt.Errorf("cdr: export: %w", err)
	}
	return nil
}

// exportChunk is how many bytes of rows Export gathers per write to its
// writer: an HTTP response or a file, which a write per row would cost a
// system call each.
const exportChunk = 64 << 10
