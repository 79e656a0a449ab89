package routing

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// csvHeader are the columns of a routes CSV file, in order. A route's
// sources, gateways and hunt-stop codes are lists within one cell,
// separated by spaces; hunt_stop "none" is a route that stops on no code,
// an empty cell the default codes. A file written before routes had
// caller_prefix, source, interface, selected_profile and priority lacks
// those columns, and its routes take none of them.
var csvHeader = []string{"name", "prefix", "caller_prefix", "source", "interface", "selected_profile", "priority",
	"gateways", "hunt_stop", "no_progress", "max_ring", "enabled"}

// WriteCSV writes routes as CSV, with a header line. Text cells are
// defused against spreadsheet formulas as the CDR exports are (OWASP): a
// cell starting with = + - @ tab or CR gets a leading ', which ReadCSV
// drops again, so an exported file imports unchanged.
func WriteCSV(w io.Writer, routes []Route) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, r := range routes {
		codes := make([]string, len(r.HuntStop))
		for i, c := range r.HuntStop {
			codes[i] = strconv.Itoa(c)
		}
		if len(codes) == 0 {
			codes = []string{"none"}
		}
		gws := make([]string, len(r.Gateways))
		for i, g := range r.Gateways {
			gws[i] = defuse(g)
		}
		if err := cw.Write([]string{defuse(r.Name), defuse(r.Prefix), defuse(r.CallerPrefix), strings.Join(r.Source, " "),
			defuse(r.Interface), defuse(r.SelectedProfile), strconv.Itoa(r.Priority), strings.Join(gws, " "), strings.Join(codes, " "),
			r.NoProgress.String(), r.MaxRing.String(), strconv.FormatBool(r.Enabled)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

const formulaStart = "=+-@\t\r"

func defuse(c string) string {
	if c != "" && strings.ContainsRune(formulaStart, rune(c[0])) {
		return "'" + c
	}
	return c
}

func undefuse(c string) string {
	if len(c) > 1 && c[0] == '\'' && strings.ContainsRune(formulaStart, rune(c[1])) {
		return c[1:]
	}
	return c
}

// RowError is what is wrong with one line of an imported file.
type RowError struct {
	Line int
	Err  error
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e RowError) Unwrap() error { return e.Err }

// ReadCSV reads routes written by WriteCSV (or a spreadsheet): the header
// line names the columns, in any order; name, prefix and gateways are
// required, the others take a new route's defaults when absent or empty.
func ReadCSV(r io.Reader) ([]Route, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, RowError{1, fmt.Errorf("no header line: %w", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"name", "prefix", "gateways"} {
		if _, ok := col[need]; !ok {
			return nil, RowError{1, fmt.Errorf("no %q column; want %s", need, strings.Join(csvHeader, ","))}
		}
	}
	var out []Route
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, RowError{line, err}
		}
		cell := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return undefuse(strings.TrimSpace(rec[i]))
			}
			return ""
		}
		rt := NewRoute()
		rt.Name, rt.Prefix = cell("name"), cell("prefix")
		rt.CallerPrefix, rt.Interface = cell("caller_prefix"), cell("interface")
		rt.SelectedProfile = cell("selected_profile")
		rt.Source = strings.Fields(cell("source"))
		for g := range strings.FieldsSeq(cell("gateways")) {
			rt.Gateways = append(rt.Gateways, undefuse(g))
		}
		errs := FieldErrors{}
		if v := cell("priority"); v != "" {
			if rt.Priority, err = strconv.Atoi(v); err != nil {
				errs["priority"] = strconv.Quote(v) + ": want a whole number (empty: 0)"
			}
		}
		if v := cell("hunt_stop"); v == "none" {
			rt.HuntStop = []int{}
		} else if v != "" {
			rt.HuntStop = []int{}
			for c := range strings.FieldsSeq(v) {
				n, err := strconv.Atoi(c)
				if err != nil {
					errs["hunt_stop"] = strconv.Quote(c) + ": want SIP codes separated by spaces"
				}
				rt.HuntStop = append(rt.HuntStop, n)
			}
		}
		if rt.NoProgress, err = ParseDuration(cell("no_progress")); err != nil {
			errs["no_progress"] = err.Error()
		}
		if rt.MaxRing, err = ParseDuration(cell("max_ring")); err != nil {
			errs["max_ring"] = err.Error()
		}
		if v := cell("enabled"); v != "" {
			if rt.Enabled, err = strconv.ParseBool(v); err != nil {
				errs["enabled"] = strconv.Quote(v) + ": want true or false"
			}
		}
		if len(errs) > 0 {
			return nil, RowError{line, errs}
		}
		out = append(out, rt)
	}
}

// ImportRoutes creates the routes whose name is new and replaces those
// whose name exists, all in one transaction: a file with one bad line
// changes nothing. Routes the file does not name are left alone.
func (s *Store) ImportRoutes(ctx context.Context, routes []Route) (created, updated int, err error) {
	seen := map[string]bool{}
	for i := range routes {
		if err := routes[i].Validate(); err != nil {
			return 0, 0, RowError{i + 2, err}
		}
		if seen[routes[i].Name] {
			return 0, 0, RowError{i + 2, FieldErrors{"name": "listed twice in the file"}}
		}
		seen[routes[i].Name] = true
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for i, r := range routes {
			var id int64
			var inserted bool
			err := tx.QueryRow(ctx, `INSERT INTO routes (name, prefix, caller_prefix, source, interface, selected_profile, priority,
					hunt_stop, no_progress_ms, max_ring_ms, enabled)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (name) DO UPDATE SET prefix = EXCLUDED.prefix, caller_prefix = EXCLUDED.caller_prefix,
					source = EXCLUDED.source, interface = EXCLUDED.interface, selected_profile = EXCLUDED.selected_profile,
					priority = EXCLUDED.priority,
					hunt_stop = EXCLUDED.hunt_stop, no_progress_ms = EXCLUDED.no_progress_ms, max_ring_ms = EXCLUDED.max_ring_ms,
					enabled = EXCLUDED.enabled, updated_at = now()
				RETURNING id, xmax = 0`,
				r.Name, r.Prefix, r.CallerPrefix, r.Source, r.Interface, r.SelectedProfile, r.Priority,
				huntStop(r.HuntStop), ms(r.NoProgress), ms(r.MaxRing), r.Enabled).Scan(&id, &inserted)
			if err == nil {
				err = setGateways(ctx, tx, id, r.Gateways)
			}
			if err != nil {
				return RowError{i + 2, storeErr("route", err)}
			}
			if inserted {
				created++
			} else {
				updated++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return created, updated, nil
}
