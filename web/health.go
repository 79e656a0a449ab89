package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

// health is the state of everything the switch depends on.
type health struct {
	OK       bool              `json:"ok"`
	Database component         `json:"database"`
	Store    *storeHealth      `json:"store,omitempty"`
	Spool    *spoolHealth      `json:"spool,omitempty"`
	Queue    *queueHealth      `json:"acct_queue,omitempty"`
	Radius   []aaa.ServerStats `json:"radius"`
	Relays   []relayHealth     `json:"relays"`
	Builtin  *relay.Stats      `json:"builtin_relay,omitempty"`
}

type component struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type spoolHealth struct {
	component
	cdr.SpoolStats
}

// storeHealth is how the CDR store (PostgreSQL, or the CSV files) answers
// the shipper.
type storeHealth struct {
	component
	State     string        `json:"state"`
	LastWrite time.Duration `json:"last_write_ns"`
}

// queueHealth is the RADIUS accounting records waiting for a server.
type queueHealth struct {
	component
	aaa.QueueStats
}

type relayHealth struct {
	Mode    string `json:"mode"`
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	InUse   bool   `json:"in_use"`
}

// spoolLagLimit is how old an unshipped CDR may be before the spool is
// reported unhealthy: the shipper sends batches every few seconds.
const spoolLagLimit = time.Minute

func (s *Server) health(ctx context.Context) health {
	h := health{OK: true, Radius: []aaa.ServerStats{}, Relays: []relayHealth{}}
	if s.db == nil {
		h.Database = component{Detail: "no database configured"}
	} else {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.db.Ping(pctx)
		cancel()
		h.Database = component{OK: err == nil, Detail: "reachable"}
		if err != nil {
			h.Database.Detail = "unreachable"
		}
	}
	h.OK = h.Database.OK
	if s.opt.Shipper != nil {
		st := s.opt.Shipper()
		h.Store = &storeHealth{component: component{OK: st.State == cdr.ShipOK, Detail: st.State.String()},
			State: st.State.String(), LastWrite: st.LastWrite}
		if st.State == cdr.ShipFailing {
			h.Store.Detail += ": " + st.LastError
		}
		h.OK = h.OK && h.Store.OK
	}
	if s.opt.Spool != nil {
		st := s.opt.Spool()
		sh := &spoolHealth{component: component{OK: true, Detail: "shipping"}, SpoolStats: st}
		if st.Depth > 0 && time.Since(st.OldestUnshipped) > spoolLagLimit {
			sh.OK, sh.Detail = false, "records waiting since "+st.OldestUnshipped.UTC().Format(time.RFC3339)
		}
		if st.State != cdr.SpoolReady {
			sh.OK, sh.Detail = false, "disk "+st.State.String()+": new calls refused unless cdr.no_space is accept"
		}
		if held := s.sw.Stats().RecordsPending.Load(); held > 0 {
			sh.OK, sh.Detail = false, fmt.Sprintf("%s; %d records held in memory", sh.Detail, held)
		}
		h.Spool = sh
		h.OK = h.OK && sh.OK
	}
	if s.opt.AcctQueue != nil {
		st := s.opt.AcctQueue()
		q := &queueHealth{component: component{OK: true, Detail: "empty"}, QueueStats: st}
		if st.Depth > 0 {
			q.Detail = fmt.Sprintf("%d records waiting since %s", st.Depth, st.Oldest.UTC().Format(time.RFC3339))
			q.OK = time.Since(st.Oldest) < spoolLagLimit
		}
		h.Queue = q
		h.OK = h.OK && q.OK
	}
	if s.opt.Radius != nil {
		h.Radius = s.opt.Radius()
		for _, r := range h.Radius {
			h.OK = h.OK && r.Up
		}
	}
	if s.opt.Relays != nil {
		modes := s.opt.Relays()
		names := make([]string, 0, len(modes))
		for m := range modes {
			names = append(names, m)
		}
		sort.Strings(names)
		for _, m := range names {
			for _, r := range modes[m] {
				h.Relays = append(h.Relays, relayHealth{Mode: m, Address: r.Address, Weight: r.Weight, InUse: r.InUse})
				h.OK = h.OK && r.InUse
			}
		}
	}
	if s.opt.Builtin != nil {
		st := s.opt.Builtin()
		h.Builtin = &st
	}
	return h
}

// healthz is for load balancers and systemd watchdogs: the process answers.
// It says nothing about the components, which need a login (/api/v1/health).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request) {
	h := s.health(r.Context())
	code := http.StatusOK
	if !h.OK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}
