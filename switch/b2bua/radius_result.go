package b2bua

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// This file keeps what RADIUS said about a call for its record (the CDR
// detail page shows it): the answer to the Access-Request, and the
// accounting records the call produced. The state is callAAA.result,
// guarded by the call's lock.

// noteAuth records the answer to the call's Access-Request, sent by mode
// (config.AuthIP or config.AuthDigest) and answered (or given up) after
// took.
func (c *Call) noteAuth(mode string, took time.Duration, grant *aaa.AuthResult, err error) {
	method := cdr.AuthByIP
	if mode == config.AuthDigest {
		method = cdr.AuthByDigest
	}
	auth, code, server := cdr.AuthError, -1, ""
	var rej *aaa.RejectError
	switch {
	case err == nil:
		auth, code, server = cdr.AuthAccept, grant.ReturnCode, grant.Server
	case errors.As(err, &rej):
		auth, code, server = cdr.AuthReject, rej.ReturnCode, rej.Server
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.aaa.rad.result
	r.Auth, r.AuthMethod, r.Server, r.ReturnCode, r.Latency = auth, method, server, code, took
}

// countAcct counts the accounting record f sends. f is one of sendAcct's
// closures, which do nothing but call one method of the Accountant they
// are given: handing it a counter tells which record it is, at the moment
// it is queued, so the count is right even though the records go out
// after the call's record is written. Called with the lock held.
func (c *Call) countAcct(f func(context.Context, Accountant) error) {
	f(context.Background(), acctCounter{&c.aaa.rad.result}) //nolint:errcheck // the counter never fails
}

// acctCounter is an Accountant that only counts.
type acctCounter struct{ r *cdr.RADIUS }

func (n acctCounter) Start(context.Context, aaa.Leg) error {
	n.r.AcctStarts++
	return nil
}

func (n acctCounter) Interim(context.Context, aaa.Leg, time.Time) error {
	n.r.AcctInterims++
	return nil
}

func (n acctCounter) Stop(context.Context, aaa.Leg, aaa.StopInfo) error {
	n.r.AcctStops++
	return nil
}

// radiusRecord puts what RADIUS said into the call's record, once its
// last accounting records are queued. Called by endAAA with the lock held.
func (c *Call) radiusRecord(rec *cdr.Record) {
	r := c.aaa.rad.result
	if r.AcctStarts+r.AcctInterims+r.AcctStops > 0 {
		r.AcctQueued = c.sw.aaa.QueuedAccounting()
	}
	rec.RADIUS = r
}
