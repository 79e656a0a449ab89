package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/tollgate/tollgate/cdr"
)

// cdrQuery is a CDR search as the form and the API take it.
type cdrQuery struct {
	Filter cdr.Filter
	Page   cdr.Page
	Form   url.Values // the parameters as given, to refill the form
}

// badParam is a parameter a user got wrong; its text is shown to them.
type badParam struct{ name, msg string }

func (e badParam) Error() string { return e.name + ": " + e.msg }

// plainText reports whether s can reach PostgreSQL as text: valid UTF-8
// without NUL. PostgreSQL refuses anything else with an error that would
// otherwise become a 503, or a CSV download cut off after its header.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// parseTimeParam reads a time in UTC unless it names its zone.
func parseTimeParam(name, v string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badParam{name, "want a time such as 2026-01-31T14:00 (UTC) or RFC 3339"}
}

// parseCDRQuery validates every search parameter; the first wrong one is
// reported.
func parseCDRQuery(q url.Values) (cdrQuery, error) {
	cq := cdrQuery{Form: q}
	f := &cq.Filter
	var err error
	text := func(name string, limit int) (string, error) {
		v := strings.TrimSpace(q.Get(name))
		if len(v) > limit {
			return "", badParam{name, fmt.Sprintf("at most %d characters", limit)}
		}
		return v, nil
	}
	for name, vs := range q {
		if !knownCDRParams[name] {
			return cq, badParam{name, "unknown parameter"}
		}
		for _, v := range vs {
			if !plainText(v) {
				return cq, badParam{name, "not valid UTF-8 text (a NUL or a broken byte sequence)"}
			}
		}
	}
	if v := q.Get("from"); v != "" {
		if f.From, err = parseTimeParam("from", v); err != nil {
			return cq, err
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = parseTimeParam("to", v); err != nil {
			return cq, err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return cq, badParam{"to", "must be after from"}
	}
	for _, p := range []struct {
		name  string
		dst   *string
		limit int
	}{
		{"caller", &f.CallerPrefix, 64}, {"called", &f.CalledPrefix, 64}, {"account", &f.Account, 128},
		{"gateway", &f.Gateway, 128}, {"call_id", &f.CallID, 256}, {"conf_id", &f.ConfID, 128},
		{"reason", &f.Reason, 64}, {"released_by", &f.ReleasedBy, 16}, {"source_ip", &f.SourceIP, 64}, {"route", &f.Route, 128},
	} {
		if *p.dst, err = text(p.name, p.limit); err != nil {
			return cq, err
		}
	}
	if v := q.Get("code"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 699 {
			return cq, badParam{"code", "want a SIP code 100-699"}
		}
		f.SIPCode = n
	}
	if v := q.Get("q850"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 127 {
			return cq, badParam{"q850", "want a Q.850 cause 1-127"}
		}
		f.Q850Cause = n
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"min_duration", &f.MinDuration}, {"max_duration", &f.MaxDuration}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cq, badParam{p.name, "want whole seconds, 0 or more"}
			}
			*p.dst = time.Duration(n) * time.Second
		}
	}
	if f.MaxDuration > 0 && f.MinDuration > f.MaxDuration {
		return cq, badParam{"max_duration", "must not be below min_duration"}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return cq, badParam{"limit", "want 1 to 1000"}
		}
		cq.Page.Limit = n
	}
	if v := q.Get("sort"); v != "" {
		if cq.Page.Sort, err = parseSort(v); err != nil {
			return cq, err
		}
	}
	if v := q.Get("cursor"); v != "" {
		if !validCursor(v) {
			return cq, badParam{"cursor", "not a cursor this server gave"}
		}
		cq.Page.Cursor = v
	}
	return cq, nil
}

var knownCDRParams = map[string]bool{
	"from": true, "to": true, "caller": true, "called": true, "account": true, "gateway": true,
	"code": true, "q850": true, "call_id": true, "conf_id": true, "limit": true, "cursor": true,
	"reason": true, "released_by": true, "source_ip": true, "route": true, "min_duration": true, "max_duration": true,
	"sort": true,
}

// parseSort reads sort=KEY (ascending) or sort=-KEY (descending), KEY one
// of cdr.SortKeys: a name looked up in a fixed table, never SQL.
func parseSort(v string) (cdr.Sort, error) {
	key, desc := strings.CutPrefix(v, "-")
	if !slices.Contains(cdr.SortKeys(), key) {
		return cdr.Sort{}, badParam{"sort", "want one of " + strings.Join(cdr.SortKeys(), ", ") + ", with - before it for descending"}
	}
	return cdr.Sort{Key: key, Asc: !desc}, nil
}

// validCursor refuses a mangled cursor with a 400 rather than a failed
// query.
func validCursor(c string) bool { return cdr.ValidCursor(c) }

// withoutCursor is the query of the same search from its first page.
func withoutCursor(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != "cursor" && len(v) > 0 && v[0] != "" {
			out[k] = v
		}
	}
	return out
}

// cdrsView's links are template.URL: they are built from url.Values.Encode,
// already escaped, and html/template would otherwise escape their "=" and
// "&" again as if the whole query were one value.
type cdrsView struct {
	Q         cdrQuery
	Records   []cdr.Record
	Next      template.URL // the next page, "" on the last
	First     template.URL // the first page, "" when on it
	CSV       template.URL // the CSV export of the search
	Error     string
	Searching bool
	Elapsed   time.Duration
	// Totals of the whole search, computed only when asked (totals=1):
	// an unbounded search over a large table counts every row.
	Totals    *cdr.Totals
	TotalsURL template.URL
	// TotalsError says why the asked totals are missing: they took longer
	// than Options.TotalsTimeout.
	TotalsError string
	// SortURL orders the same search by a column: descending first, then
	// ascending when the page is already in that column's descending order.
	SortURL map[string]template.URL
}

func (s *Server) cdrsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	wantTotals := q.Has("totals") // the page's own flag, not a filter
	q.Del("totals")
	cq, err := parseCDRQuery(q)
	v := cdrsView{Q: cq}
	if err != nil {
		v.Error = err.Error()
		s.render(w, r, http.StatusBadRequest, "cdrs", v)
		return
	}
	if cq.Page.Limit == 0 {
		cq.Page.Limit = 50
	}
	start := time.Now()
	recs, next, err := cdr.Search(r.Context(), s.db, cq.Filter, cq.Page)
	if errors.Is(err, cdr.ErrBadCursor) {
		v.Error = "cursor: not a cursor of this order; start again from the first page"
		s.render(w, r, http.StatusBadRequest, "cdrs", v)
		return
	}
	if err != nil {
		s.log.Error("CDR search", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the CDR search failed: is PostgreSQL up?")
		return
	}
	v.Records, v.Elapsed = recs, time.Since(start).Round(time.Millisecond)
	base := withoutCursor(r.URL.Query())
	if next != "" {
		nq := withoutCursor(r.URL.Query())
		nq.Set("cursor", next)
		v.Next = template.URL("/cdrs?" + nq.Encode())
	}
	if cq.Page.Cursor != "" {
		v.First = template.URL("/cdrs?" + base.Encode())
	}
	if wantTotals {
		t, err := s.searchTotals(r.Context(), cq.Filter)
		switch {
		case errors.Is(err, errTotalsTooLong):
			v.TotalsError = s.totalsTooLong()
		case err != nil:
			s.log.Error("CDR totals", "error", err)
			s.fail(w, r, http.StatusServiceUnavailable, "the CDR search failed: is PostgreSQL up?")
			return
		default:
			v.Totals = &t
		}
	} else {
		tq := withoutCursor(r.URL.Query())
		tq.Set("totals", "1")
		v.TotalsURL = template.URL("/cdrs?" + tq.Encode())
	}
	v.SortURL = map[string]template.URL{}
	for _, k := range cdr.SortKeys() {
		sq := withoutCursor(r.URL.Query())
		sq.Del("totals")
		if cq.Page.Sort == (cdr.Sort{Key: k}) || (k == "setup" && cq.Page.Sort == (cdr.Sort{})) {
			sq.Set("sort", k)
		} else {
			sq.Set("sort", "-"+k)
		}
		v.SortURL[k] = template.URL("/cdrs?" + sq.Encode())
	}
	base.Del("limit")
	base.Del("totals")
	base.Del("sort")
	v.CSV = template.URL("/cdrs.csv?" + base.Encode())
	s.render(w, r, http.StatusOK, "cdrs", v)
}

func (s *Server) apiCDRs(w http.ResponseWriter, r *http.Request) {
	cq, err := parseCDRQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	recs, next, err := cdr.Search(r.Context(), s.db, cq.Filter, cq.Page)
	if errors.Is(err, cdr.ErrBadCursor) {
		s.fail(w, r, http.StatusBadRequest, "cursor: not a cursor of this order; start again from the first page")
		return
	}
	if err != nil {
		s.log.Error("CDR search", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the CDR search failed")
		return
	}
	if recs == nil {
		recs = []cdr.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cdrs": recs, "next_cursor": next})
}

// apiCDRTotals sums up every CDR of a search (the filters of
// /api/v1/cdrs; paging does not apply).
func (s *Server) apiCDRTotals(w http.ResponseWriter, r *http.Request) {
	cq, err := parseCDRQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	t, err := s.searchTotals(r.Context(), cq.Filter)
	if errors.Is(err, errTotalsTooLong) {
		s.fail(w, r, http.StatusServiceUnavailable, s.totalsTooLong())
		return
	}
	if err != nil {
		s.log.Error("CDR totals", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the CDR search failed")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// errTotalsTooLong is searchTotals' answer when the totals took longer
// than Options.TotalsTimeout and were cancelled.
var errTotalsTooLong = errors.New("web: CDR totals took too long")

// searchTotals is cdr.SearchTotals bounded by Options.TotalsTimeout:
// PostgreSQL's query is cancelled with the context when the bound passes.
func (s *Server) searchTotals(ctx context.Context, f cdr.Filter) (cdr.Totals, error) {
	bounded, cancel := context.WithTimeout(ctx, s.opt.TotalsTimeout)
	defer cancel()
	t, err := cdr.SearchTotals(bounded, s.db, f)
	if err != nil && ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
		return cdr.Totals{}, errTotalsTooLong
	}
	return t, err
}

// totalsTooLong tells the operator what to do about totals that took too
// long.
func (s *Server) totalsTooLong() string {
	return fmt.Sprintf("The totals of this search took longer than %v and were stopped: narrow its time range, "+
		"or search by time, one account or one route alone, whose totals come from the statistics.", s.opt.TotalsTimeout)
}

// cdrsCSV streams every CDR of a search, oldest first.
func (s *Server) cdrsCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Del("limit")
	q.Del("cursor")
	cq, err := parseCDRQuery(q)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	name := "tollgate-cdrs-" + time.Now().UTC().Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := cdr.Export(r.Context(), s.db, cq.Filter, w); err != nil {
		// The status is sent; a broken download is all the client can be told.
		s.log.Error("CDR export", "error", err)
	}
}

func (s *Server) lookupCDR(w http.ResponseWriter, r *http.Request) (cdr.Record, bool) {
	id := chi.URLParam(r, "id")
	if !validCallID(id) {
		s.fail(w, r, http.StatusBadRequest, "bad CDR id: want a UUID")
		return cdr.Record{}, false
	}
	rec, err := cdr.ByID(r.Context(), s.db, strings.ToLower(id))
	if errors.Is(err, cdr.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "no CDR "+id)
		return rec, false
	}
	if err != nil {
		s.log.Error("CDR lookup", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the CDR lookup failed")
		return rec, false
	}
	return rec, true
}

func (s *Server) cdrPage(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.lookupCDR(w, r); ok {
		s.render(w, r, http.StatusOK, "cdr", rec)
	}
}

func (s *Server) apiCDR(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.lookupCDR(w, r); ok {
		writeJSON(w, http.StatusOK, rec)
	}
}
