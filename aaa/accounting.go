package aaa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/tollgate/tollgate/cdr"
)

// Origin is a leg's h323-call-origin.
type Origin string

// Leg origins: the incoming leg answers, each outgoing attempt originates.
const (
	OriginAnswer    Origin = "answer"
	OriginOriginate Origin = "originate"
)

// Leg is one RADIUS accounting session: the incoming leg, or one outgoing
// attempt. All legs of a call share ConfID and CallID.
type Leg struct {
	Origin        Origin
	UserName      string // answer: the caller's identity; originate: bill-to or the same
	CallingNumber string
	CalledNumber  string
	RemoteAddress string // answer: the caller's IP; originate: the gateway
	CallID        string // the incoming Call-ID (Cisco-AVPair call-id on every leg)
	LegCallID     string // this leg's own Call-ID
	ConfID        ConfID
	SetupTime     time.Time
	ConnectTime   time.Time // zero while (or if never) answered
}

// StopInfo says how a leg ended.
type StopInfo struct {
	Time          time.Time
	SIPCode       int // the final SIP code that ended it; < 200 for BYE/CANCEL/timers
	ReleaseSource ReleaseSource
	// TerminateCause is Acct-Terminate-Cause; 0 derives it: User-Request
	// when a party hung up, NAS-Request when the switch ended it.
	TerminateCause rfc2866.AcctTerminateCause
}

// AccountingConfig configures accounting.
type AccountingConfig struct {
	// SessionIDPerLeg puts each leg's own Call-ID in Acct-Session-Id, as
	// Cisco gateways do. The default is Sippy B2BUA's convention: the
	// incoming Call-ID on every leg.
	SessionIDPerLeg bool
	NASIPAddress    netip.Addr
	// Node is cluster.node, sent as NAS-Identifier and h323-gw-id so that a
	// billing server fed by several Tollgates knows which one sent each
	// record; nothing is sent when empty.
	Node string
	// RetryInterval paces resending queued records; default 5 s.
	RetryInterval time.Duration
	Logger        *slog.Logger
}

// Accountant sends accounting records and queues those no server answers.
type Accountant struct {
	client *Client
	queue  *Queue
	cfg    AccountingConfig
	kick   chan struct{}

	// mu keeps a record and its parked copies together: a record is queued
	// and parked, or unparked and taken from the queue, in one step, so the
	// drain never resends a record whose copy it has not got yet.
	mu     sync.Mutex
	parked map[uint64][]*sent // queue seq -> copies the servers may still answer
}

// NewAccountant uses client (the accounting server group) and queue.
func NewAccountant(client *Client, queue *Queue, cfg AccountingConfig) *Accountant {
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Accountant{client: client, queue: queue, cfg: cfg, kick: make(chan struct{}, 1), parked: map[uint64][]*sent{}}
}

// Start sends the leg's Start record (at connect).
func (a *Accountant) Start(ctx context.Context, leg Leg) error {
	p, err := a.StartPacket(leg)
	if err != nil {
		return err
	}
	return a.send(ctx, p)
}

// Interim sends an Interim-Update for a connected leg.
func (a *Accountant) Interim(ctx context.Context, leg Leg, now time.Time) error {
	p, err := a.InterimPacket(leg, now)
	if err != nil {
		return err
	}
	return a.send(ctx, p)
}

// Stop sends the leg's Stop record; every leg gets one, answered or not.
func (a *Accountant) Stop(ctx context.Context, leg Leg, stop StopInfo) error {
	p, err := a.StopPacket(leg, stop)
	if err != nil {
		return err
	}
	return a.send(ctx, p)
}

// send delivers p or queues it durably; an error means the record could not
// even be queued. While older records wait in the queue, new ones join them
// at once, which keeps records in order and spares each call the timeouts
// of servers known to be unreachable. A record no server answered stays
// parked on the servers it was sent to, so that its resend is a
// retransmission, not a second record.
func (a *Accountant) send(ctx context.Context, p *radius.Packet) error {
	created := time.Now()
	var held []*sent
	if a.queue.Len() == 0 {
		_, _, parked, err := a.client.exchange(ctx, p, created, nil)
		if err == nil {
			return nil
		}
		held = parked
		a.cfg.Logger.Warn("radius: accounting not answered, queued", "err", err)
	}
	rfc2866.AcctDelayTime_Del(p)
	a.mu.Lock()
	seq, err := a.queue.Append(p.Attributes, created)
	if err == nil && len(held) > 0 {
		a.parked[seq] = held
	}
	a.mu.Unlock()
	if err != nil {
		releaseAll(held)
		return fmt.Errorf("radius: accounting record lost: %w", err)
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return nil
}

// drainBatch is how many queued records are resent at once.
const drainBatch = 32

// Run resends queued records until ctx ends: at once when records are
// queued, then every RetryInterval while the servers stay silent.
func (a *Accountant) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.RetryInterval)
	defer t.Stop()
	for {
		for a.drainOnce(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
	}
}

// drainOnce resends one batch and reports whether all of it was delivered
// and more is waiting.
func (a *Accountant) drainOnce(ctx context.Context) bool {
	a.mu.Lock()
	recs := a.queue.Head(drainBatch)
	held := make([][]*sent, len(recs))
	for i, r := range recs {
		held[i] = a.parked[r.Seq]
		delete(a.parked, r.Seq)
	}
	a.mu.Unlock()
	if len(recs) == 0 {
		return false
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered []uint64
		failures  []error
	)
	for i, r := range recs {
		wg.Go(func() {
			p := &radius.Packet{Code: radius.CodeAccountingRequest, Attributes: append(radius.Attributes(nil), r.Attrs...)}
			_, _, parked, err := a.client.exchange(ctx, p, r.Created, held[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				a.park(r.Seq, parked)
				return
			}
			delivered = append(delivered, r.Seq)
		})
	}
	wg.Wait()
	if err := a.queue.Delivered(delivered...); err != nil {
		a.cfg.Logger.Error("radius: accounting queue checkpoint failed; records may be resent", "err", err)
		return false
	}
	if len(failures) > 0 {
		a.cfg.Logger.Warn("radius: queued accounting still not answered", "failed", len(failures), "waiting", a.queue.Len(), "first", failures[0])
		return false
	}
	if a.queue.Len() == 0 {
		a.cfg.Logger.Info("radius: accounting queue delivered: every record answered")
	}
	return a.queue.Len() > 0
}

// park keeps the copies of a queued record that servers may still answer.
func (a *Accountant) park(seq uint64, copies []*sent) {
	if len(copies) == 0 {
		return
	}
	a.mu.Lock()
	a.parked[seq] = copies
	a.mu.Unlock()
}

func (a *Accountant) sessionID(leg Leg) string {
	if a.cfg.SessionIDPerLeg && leg.LegCallID != "" {
		return leg.LegCallID
	}
	return leg.CallID
}

// basePacket holds what every record carries.
func (a *Accountant) basePacket(leg Leg, status rfc2866.AcctStatusType, event time.Time) (*radius.Packet, error) {
	p := &radius.Packet{Code: radius.CodeAccountingRequest}
	err := errors.Join(
		rfc2866.AcctStatusType_Set(p, status),
		rfc2865.UserName_SetString(p, leg.UserName),
		rfc2865.CallingStationID_SetString(p, leg.CallingNumber),
		rfc2865.CalledStationID_SetString(p, leg.CalledNumber),
		rfc2866.AcctSessionID_SetString(p, a.sessionID(leg)),
		AddAVPair(p, "call-id", leg.CallID),
		AddH323(p, H323ConfID, leg.ConfID.String()),
		AddH323(p, H323RemoteAddress, leg.RemoteAddress),
		AddH323(p, H323CallOrigin, string(leg.Origin)),
		AddH323(p, H323CallType, "VoIP"),
		AddAVPair(p, "h323-session-protocol", "sipv2"),
		AddH323(p, H323SetupTime, FormatTime(leg.SetupTime)),
		rfc2869.EventTimestamp_Set(p, event),
	)
	if a.cfg.NASIPAddress.Is4() {
		err = errors.Join(err, rfc2865.NASIPAddress_Set(p, a.cfg.NASIPAddress.AsSlice()))
	}
	err = errors.Join(err, addNode(p, a.cfg.Node))
	if err != nil {
		return nil, fmt.Errorf("radius: accounting record: %w", err)
	}
	return p, nil
}

// StartPacket builds a leg's Start record.
func (a *Accountant) StartPacket(leg Leg) (*radius.Packet, error) {
	p, err := a.basePacket(leg, rfc2866.AcctStatusType_Value_Start, leg.ConnectTime)
	if err != nil {
		return nil, err
	}
	return p, AddH323(p, H323ConnectTime, FormatTime(leg.ConnectTime))
}

// InterimPacket builds an Interim-Update with the session time so far.
func (a *Accountant) InterimPacket(leg Leg, now time.Time) (*radius.Packet, error) {
	p, err := a.basePacket(leg, rfc2866.AcctStatusType_Value_InterimUpdate, now)
	if err != nil {
		return nil, err
	}
	err = errors.Join(
		AddH323(p, H323ConnectTime, FormatTime(leg.ConnectTime)),
		rfc2866.AcctSessionTime_Set(p, sessionSeconds(leg.ConnectTime, now)),
	)
	return p, err
}

// StopPacket builds a Stop record. A leg never answered has its connect
// time equal to its disconnect time and a session time of 0.
func (a *Accountant) StopPacket(leg Leg, stop StopInfo) (*radius.Packet, error) {
	p, err := a.basePacket(leg, rfc2866.AcctStatusType_Value_Stop, stop.Time)
	if err != nil {
		return nil, err
	}
	connect, session := stop.Time, rfc2866.AcctSessionTime(0)
	if !leg.ConnectTime.IsZero() {
		connect, session = leg.ConnectTime, sessionSeconds(leg.ConnectTime, stop.Time)
	}
	cause := stop.TerminateCause
	if cause == 0 {
		cause = rfc2866.AcctTerminateCause_Value_NASRequest
		if stop.ReleaseSource == ReleasedByCaller || stop.ReleaseSource == ReleasedByCallee {
			cause = rfc2866.AcctTerminateCause_Value_UserRequest
		}
	}
	rs := stop.ReleaseSource
	if rs == 0 {
		rs = ReleasedBySwitch
	}
	err = errors.Join(
		AddH323(p, H323ConnectTime, FormatTime(connect)),
		AddH323(p, H323DisconnectTime, FormatTime(stop.Time)),
		rfc2866.AcctSessionTime_Set(p, session),
		AddH323(p, H323DisconnectCause, FormatCause(cdr.Q850Cause(stop.SIPCode))),
		AddH323(p, H323VoiceQuality, "0"),
		rfc2866.AcctTerminateCause_Set(p, cause),
		AddAVPair(p, "release-source", fmt.Sprint(int(rs))),
	)
	return p, err
}

// sessionSeconds is whole seconds from connect to t, never negative.
func sessionSeconds(connect, t time.Time) rfc2866.AcctSessionTime {
	d := t.Sub(connect)
	if d < 0 {
		return 0
	}
	return rfc2866.AcctSessionTime(d / time.Second)
}
