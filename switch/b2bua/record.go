package b2bua

import (
	"context"
	"log/slog"
	"time"

	"github.com/goccy/go-json"

	"github.com/tollgate/tollgate/cdr"
)

// RecordSink receives the one record of every call. Write may block until
// the record is durable (the CDR spool fsyncs); it is called from the
// goroutine that tore the call down, never under a call's lock. It keeps
// no reference to r, and may complete it (the pipe names the node).
type RecordSink interface {
	Write(ctx context.Context, r *cdr.Record) error
}

// Journal notes each call as it reaches the switch (cheaply: no fsync) and
// durably as it connects, so that when Tollgate dies the next start can
// still write the record of every call that was up and send the RADIUS
// Stops of its accounting sessions, a JSON list of aaa.Leg (cdr.Journal
// satisfies it; the record sink marks the call ended).
type Journal interface {
	Setup(r *cdr.Record, accounting json.RawMessage) error
	Connected(r *cdr.Record, accounting json.RawMessage) error
}

// RecordGate says whether call records can be made durable now (the CDR
// spool's disk has room, with its reserve). While they cannot, new calls are
// refused with 503 (unless cdr.no_space is accept): a call that could not
// be billed is not switched.
type RecordGate interface {
	RecordsDurable() bool
}

// LogSink writes call records as structured log lines: the record of last
// resort when no CDR store is configured.
type LogSink struct{ Log *slog.Logger }

// Write logs the record at info level.
func (s LogSink) Write(_ context.Context, r *cdr.Record) error {
	s.Log.Info("call record",
		"id", r.ID, "conf_id", r.ConfID,
		"call_id_a", r.CallIDA, "call_id_b", r.CallIDB,
		"caller", r.CallerNumber, "callee", r.CalledReceived, "callee_sent", r.CalledSent,
		"source", r.SourceIP, "source_port", r.SourcePort,
		"route", r.Route, "gateway", r.Gateway, "attempts", len(r.Attempts),
		"setup", r.SetupTime, "connect", r.ConnectTime, "disconnect", r.DisconnectTime,
		"duration", r.Duration, "sip_code", r.SIPCode, "sip_reason", r.SIPReason,
		"q850", r.Q850Cause, "released_by", r.ReleasedBy, "reason", r.DisconnectReason)
	return nil
}

// record builds the call's record. Called with the lock held. The record
// is built on the heap, where the sinks and the journal need it anyway:
// returned by value it took 800 bytes in each frame it passed through,
// and the goroutines sipgo starts per request, small, grew their stacks
// for it at every call's setup and end (copying them: 5% of the switch's
// CPU at 3,000 calls/s).
func (c *Call) record(o outcome, now time.Time) *cdr.Record {
	r := &cdr.Record{
		ID:               c.ID,
		ConfID:           confID(c.ID),
		CallIDA:          c.a.d.callID,
		CallerNumber:     c.caller,
		CallerName:       c.callerName,
		CalledReceived:   c.called,
		CalledSent:       c.calledSent,
		SourceIP:         c.srcIP,
		SourcePort:       c.srcPort,
		Attempts:         c.attempts,
		SetupTime:        c.setupT,
		RingingTime:      c.ringT,
		ConnectTime:      c.connectT,
		DisconnectTime:   now,
		SIPCode:          o.code,
		SIPReason:        o.sipReason,
		Q850Cause:        q850(o.code, o.reason),
		ReleasedBy:       o.releasedBy,
		DisconnectReason: o.reason,
		CodecA:           c.codecA,
		CodecB:           c.codecB,
		UserAgentA:       c.userAgentA,
		UserAgentB:       c.userAgtB,
	}
	if c.route != nil {
		r.Route = c.route.Name
	}
	if c.b != nil {
		r.CallIDB = c.b.d.callID
		r.Gateway = c.b.gateway.Address
	}
	if !c.connectT.IsZero() {
		r.Duration = now.Sub(c.connectT)
		r.BilledSeconds = int((r.Duration + time.Second - 1) / time.Second)
	}
	switch {
	case !c.ringT.IsZero():
		r.PostDialDelay = c.ringT.Sub(c.setupT)
	case !c.connectT.IsZero():
		r.PostDialDelay = c.connectT.Sub(c.setupT)
	}
	return r
}

// confID renders a call's UUID as an h323-conf-id: four groups of eight
// upper-case hex digits.
func confID(id string) string {
	hex := make([]byte, 0, 32)
	for i := 0; i < len(id); i++ {
		if ch := id[i]; ch != '-' {
			if ch >= 'a' && ch <= 'f' {
				ch -= 'a' - 'A'
			}
			hex = append(hex, ch)
		}
	}
	if len(hex) != 32 {
		return id
	}
	return string(hex[0:8]) + " " + string(hex[8:16]) + " " + string(hex[16:24]) + " " + string(hex[24:32])
}

// q850 maps how a call ended to its Q.850 cause. A caller abandons with
// CANCEL, and its record carries the 487 the caller got: Sippy reports that
// as normal clearing, like a BYE; every other code goes by cdr's table.
func q850(code int, reason string) int {
	if reason == cdr.ReasonCancelled {
		return cdr.CauseNormalClearing
	}
	return cdr.Q850Cause(code)
}
