package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// radiusCredit is the credit time the bench's FreeRADIUS grants: far longer
// than any call of the run, so that no call is cut by its credit.
const radiusCredit = 3600

// radiusSide is the RADIUS half of the radius run: a real FreeRADIUS (no
// -X) that authorises the SIPp UAC by its source IP, routes its calls to
// the SIPp UAS and writes every accounting record to its detail file.
type radiusSide struct {
	fr     *testenv.FreeRADIUS
	detail *detailFile
	last   acctCounts // the counts after the previous step drained
}

// radiusUsers is the FreeRADIUS users file: the UAC's address (SIPp binds
// 127.0.0.1) as an IP-authorised trunk with the password Tollgate sends
// for IP authorisation, one route to the UAS, and everyone else rejected.
func radiusUsers(uas string) string {
	return fmt.Sprintf(`"127.0.0.1"	Cleartext-Password := "cisco"
	h323-credit-time = "h323-credit-time=%d",
	h323-return-code = "h323-return-code=0",
	Cisco-AVPair = "h323-ivr-in=Routing:%s"

DEFAULT	Auth-Type := Reject
	h323-return-code = "h323-return-code=1"
`, radiusCredit, uas)
}

// startRadiusSide starts FreeRADIUS in dir with the UAS as the route.
func startRadiusSide(dir, uas string) (*radiusSide, error) {
	fr, err := testenv.NewFreeRADIUS(testenv.FreeRADIUSOptions{Users: radiusUsers(uas), Dir: filepath.Join(dir, "freeradius")})
	if err != nil {
		return nil, fmt.Errorf("freeradius: %w", err)
	}
	return &radiusSide{fr: fr, detail: &detailFile{path: fr.DetailPath(), tally: newDetailTally()}}, nil
}

func (r *radiusSide) close() { _ = r.fr.Close() }

// yaml is the switch's radius: section: IP authorisation and accounting,
// both on the one FreeRADIUS, with the defaults for timeouts and retries.
func (r *radiusSide) yaml() string {
	return fmt.Sprintf(`radius:
  auth: ip
  auth_servers:
    - address: %s
      secret: %q
  acct_servers:
    - address: %s
      secret: %q
`, r.fr.AuthAddr, r.fr.Secret, r.fr.AcctAddr, r.fr.Secret)
}

// radiusStep is what a radius step adds to a call-rate step.
type radiusStep struct {
	frCPUPct float64 // FreeRADIUS's CPU over the step, % of one core
	frDrops  int64   // datagrams dropped at FreeRADIUS's sockets: requests it never saw
	answered int     // calls of the step with accounting Starts: connected
	complete int     // of which with Start and Stop on both legs
	open     int     // connected calls of the run still lacking a record
	failed   int     // attempts of the step with Stops only
	dups     int     // records written twice, over the run so far
	bad      int     // records the tally could not place, over the run so far
	written  int     // detail records written during the step
	acctRate float64 // of them per second of the step
	lag      time.Duration
	drained  bool   // every connected call's four records arrived within the bound
	err      string // why accounting could not be checked
}

// ok is the step's accounting verdict: every call the UAC completed was
// connected by the switch, and every connected call has its four records.
func (s *radiusStep) ok(successful int) bool {
	return s.err == "" && s.drained && s.open == 0 && s.answered >= successful
}

// frSample is FreeRADIUS's CPU and socket drops at one moment.
type frSample struct {
	proc  procSample
	drops int64
}

// sample reads FreeRADIUS's CPU and the drops at its two sockets.
func (r *radiusSide) sample() (frSample, error) {
	var s frSample
	var err error
	if s.proc, err = sampleProc(r.fr.Pid()); err != nil {
		return s, err
	}
	for _, addr := range []string{r.fr.AuthAddr, r.fr.AcctAddr} {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return s, err
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return s, err
		}
		d, err := udpSocketDrops(n)
		if err != nil {
			return s, err
		}
		s.drops += d
	}
	return s, nil
}

// after completes a step: FreeRADIUS's CPU over it, the records written
// while it ran, then — accounting being sent in the background and queued
// when the server falls behind — a bounded wait for the rest.
func (r *radiusSide) after(ctx context.Context, step *rateStep, before frSample, stepTime time.Duration) {
	rs := &radiusStep{}
	step.radius = rs
	after, err := r.sample()
	if err != nil {
		rs.err = fmt.Sprintf("freeradius gone: %v: %s", err, tailString(r.fr.Log(), 800))
		return
	}
	wall := after.proc.at.Sub(before.proc.at)
	rs.frCPUPct = 100 * (after.proc.cpu - before.proc.cpu).Seconds() / wall.Seconds()
	rs.frDrops = after.drops - before.drops
	atEnd, err := r.detail.read()
	if err != nil {
		rs.err = err.Error()
		return
	}
	rs.written = atEnd.records - r.last.records
	rs.acctRate = float64(rs.written) / wall.Seconds()

	// The bound: a backlog the server drains at half the offered rate
	// takes as long again as the step, plus a queue retry or two.
	ended := time.Now()
	now, err := awaitAccounting(ctx, r.detail, r.last, step.successful, stepTime+time.Minute)
	rs.lag = time.Since(ended)
	if err != nil {
		rs.err = err.Error()
		return
	}
	rs.answered = now.answered - r.last.answered
	rs.complete = now.complete - r.last.complete
	rs.failed = now.failed - r.last.failed
	rs.open, rs.dups, rs.bad = now.open(), now.dups, now.bad
	rs.drained = now.open() == 0 && rs.answered >= step.successful
	r.last = now
}

// awaitAccounting reads the detail file until every connected call has its
// four records and at least want calls of the step were connected, the
// file stops growing for 15 s, or limit passes.
func awaitAccounting(ctx context.Context, f *detailFile, last acctCounts, want int, limit time.Duration) (acctCounts, error) {
	deadline := time.Now().Add(limit)
	grew, seen := time.Now(), last.records
	for {
		c, err := f.read()
		if err != nil {
			return c, err
		}
		if c.open() == 0 && c.answered-last.answered >= want {
			return c, nil
		}
		if c.records != seen {
			grew, seen = time.Now(), c.records
		}
		if time.Since(grew) > 15*time.Second || time.Now().After(deadline) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// tailString is at most the last limit bytes of s.
func tailString(s string, limit int) string {
	if len(s) > limit {
		s = s[len(s)-limit:]
	}
	return s
}
