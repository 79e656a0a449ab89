package web

import (
	"net/http"
	"strconv"
)

type auditView struct {
	Entries []AuditEntry
	Next    int64 // "before" of the next page; 0 on the last
}

func (s *Server) auditQuery(w http.ResponseWriter, r *http.Request) (auditView, bool) {
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.fail(w, r, http.StatusBadRequest, "before: want an entry id")
			return auditView{}, false
		}
		before = n
	}
	entries, more, err := s.store.auditLog(r.Context(), before, 100)
	if err != nil {
		s.log.Error("audit log", "error", err)
		s.fail(w, r, http.StatusServiceUnavailable, "the audit log is unavailable")
		return auditView{}, false
	}
	v := auditView{Entries: entries}
	if more {
		v.Next = entries[len(entries)-1].ID
	}
	if v.Entries == nil {
		v.Entries = []AuditEntry{}
	}
	return v, true
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.auditQuery(w, r); ok {
		s.render(w, r, http.StatusOK, "audit", v)
	}
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.auditQuery(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"entries": v.Entries, "next_before": v.Next})
	}
}
