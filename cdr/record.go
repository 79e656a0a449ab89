// Package cdr holds Tollgate's call detail record: the record itself, the
// durable local spool every record lands in first, the PostgreSQL writer
// that ships the spool in batches, daily CSV files, and CSV export.
package cdr

import (
	"fmt"
	"time"

	"github.com/goccy/go-json"
)

// Record is one call, as billing and the operator see it: exactly one per
// call that reached the switch, whatever ended it.
type Record struct {
	ID     string `json:"id"`      // UUID chosen by Tollgate at call setup
	ConfID string `json:"conf_id"` // h323-conf-id, shared by both RADIUS legs

	CallIDA string `json:"call_id_a"` // caller leg Call-ID
	CallIDB string `json:"call_id_b"` // last attempted callee leg Call-ID ("" when none)

	CallerNumber   string `json:"caller_number"`
	CallerName     string `json:"caller_name"`
	CalledReceived string `json:"called_received"` // R-URI user as the caller sent it
	CalledSent     string `json:"called_sent"`     // R-URI user as sent to the gateway
	SourceIP       string `json:"source_ip"`
	SourcePort     int    `json:"source_port"`
	Account        string `json:"account"` // RADIUS User-Name, when authorised

	Route    string    `json:"route"`   // route table entry (prefix) or "radius"
	Gateway  string    `json:"gateway"` // gateway of the last attempt
	Attempts []Attempt `json:"attempts"`

	SetupTime      time.Time `json:"setup_time"`
	RingingTime    time.Time `json:"ringing_time"` // zero when never ringing
	ConnectTime    time.Time `json:"connect_time"` // zero when never answered
	DisconnectTime time.Time `json:"disconnect_time"`

	Duration      time.Duration `json:"duration"`        // connect to disconnect
	BilledSeconds int           `json:"billed_seconds"`  // Duration rounded up to whole seconds
	PostDialDelay time.Duration `json:"post_dial_delay"` // setup to first ringing/progress or answer

	SIPCode          int    `json:"sip_code"`   // final response code the caller saw (200 when answered)
	SIPReason        string `json:"sip_reason"` // its reason phrase
	Q850Cause        int    `json:"q850_cause"`
	ReleasedBy       string `json:"released_by"`       // caller, callee, switch
	DisconnectReason string `json:"disconnect_reason"` // see the Reason constants

	CreditGranted time.Duration `json:"credit_granted"` // 0 when the call had no credit limit

	CodecA     string   `json:"codec_a"` // negotiated on the caller's leg (its answer's first codec the offer listed)
	CodecB     string   `json:"codec_b"` // negotiated on the gateway's leg; differs from CodecA when transcoding
	MediaRelay string   `json:"media_relay"`
	RTPAtoB    RTPStats `json:"rtp_a_to_b"`
	RTPBtoA    RTPStats `json:"rtp_b_to_a"`

	UserAgentA string `json:"user_agent_a"`
	UserAgentB string `json:"user_agent_b"`

	RADIUS RADIUS `json:"radius"`

	// Node is the cluster.node that switched the call: in a cluster, which
	// server's spool, journal and logs hold the rest of its story.
	Node string `json:"node"`
}

// Attempt is one try of one gateway within a call.
type Attempt struct {
	Gateway   string    `json:"gateway"`
	CallID    string    `json:"call_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	SIPCode   int       `json:"sip_code"` // 0 when it ended without a final response (timeout, cancel)
	SIPReason string    `json:"sip_reason"`
	Ringing   bool      `json:"ringing"` // it sent 180/183
	Answered  bool      `json:"answered"`
}

// RTPStats are the relay's counters for one direction of a call's media.
// Each is unknown when the relay does not keep it (bytes on rtpproxy; loss
// and jitter on rtpproxy before 20230205/20230424), could not be asked
// (its relay was lost before any reading), or when the call had no relay.
type RTPStats struct {
	Packets Maybe[uint64]        `json:"packets"`
	Bytes   Maybe[uint64]        `json:"bytes"`
	Lost    Maybe[uint64]        `json:"lost"`
	Jitter  Maybe[time.Duration] `json:"jitter"`
	// RTT is the mean RTCP round trip between the relay and the party
	// that sent this direction: Tollgate's relay measures it when the
	// parties send RTCP; rtpproxy does not.
	RTT Maybe[time.Duration] `json:"rtt"`
	// MOS is the E-model estimate of what the receiver heard (quality.go).
	MOS Maybe[float64] `json:"mos"`
}

// Maybe is a figure that may be unknown. An unknown figure is NULL in the
// database, an empty CSV cell and null in JSON, never 0: a bill must tell
// "no media" from "not counted". The zero value is unknown.
type Maybe[T uint64 | time.Duration | float64] struct {
	V     T
	Known bool
}

// Known is a known count.
func Known(n uint64) Maybe[uint64] { return Maybe[uint64]{V: n, Known: true} }

// KnownDuration is a known duration.
func KnownDuration(d time.Duration) Maybe[time.Duration] {
	return Maybe[time.Duration]{V: d, Known: true}
}

// Add sums two figures of the same kind (two streams of a call): known
// when either is.
func (m Maybe[T]) Add(o Maybe[T]) Maybe[T] {
	return Maybe[T]{V: m.V + o.V, Known: m.Known || o.Known}
}

// String is the figure, or "" when unknown: what the UI and CSV show.
func (m Maybe[T]) String() string {
	if !m.Known {
		return ""
	}
	return fmt.Sprint(m.V)
}

// MarshalJSON writes null for an unknown figure.
func (m Maybe[T]) MarshalJSON() ([]byte, error) {
	if !m.Known {
		return []byte("null"), nil
	}
	return json.Marshal(m.V)
}

// UnmarshalJSON reads null as unknown, a number as known (records spooled
// before figures could be unknown read as known, as they were written).
func (m *Maybe[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Maybe[T]{}
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Maybe[T]{V: v, Known: true}
	return nil
}

// RADIUS is what the billing back-end said about a call: its answer to the
// Access-Request, and the accounting records the call produced. The zero
// value is a call that RADIUS neither authorised nor accounted.
type RADIUS struct {
	Auth       string        `json:"auth"`        // AuthAccept, AuthReject, AuthError, AuthUnavailable; "" when RADIUS did not authorise the call
	AuthMethod string        `json:"auth_method"` // AuthByIP or AuthByDigest
	Server     string        `json:"server"`      // the auth server that answered, when known
	ReturnCode int           `json:"return_code"` // h323-return-code of the answer; -1 when it had none or none came
	Latency    time.Duration `json:"latency"`     // from the Access-Request to its answer, or to giving up

	// Accounting-Requests the call produced, per Acct-Status-Type. They are
	// sent after the record is written: AcctQueued counts the records of
	// every call that were waiting in the resend queue at that moment, a
	// sign that the accounting servers were not answering.
	AcctStarts   int `json:"acct_starts"`
	AcctInterims int `json:"acct_interims"`
	AcctStops    int `json:"acct_stops"`
	AcctQueued   int `json:"acct_queued"`
}

// RADIUS authorisation results and methods.
const (
	AuthAccept = "accept"
	AuthReject = "reject"
	AuthError  = "error" // no valid answer: timeouts, a bad reply, the call cancelled meanwhile
	// AuthUnavailable: no valid answer, and the call went on unauthorised
	// (radius.auth_unavailable: accept).
	AuthUnavailable = "unavailable, accepted"
	AuthByIP        = "ip"
	AuthByDigest    = "digest"
)

// Disconnect reasons: why a call ended, in words an operator searches by.
const (
	ReasonNormal        = "normal"
	ReasonBusy          = "busy"
	ReasonNoAnswer      = "no answer"
	ReasonCancelled     = "cancelled"
	ReasonRejected      = "rejected"       // the switch refused it before routing
	ReasonFailed        = "failed"         // every gateway failed
	ReasonMaxDuration   = "max duration"   // the route's max call duration
	ReasonCreditExpired = "credit expired" // prepaid credit ran out
	ReasonMediaTimeout  = "media timeout"
	// ReasonMediaRelayLost: the relay anchoring its media stopped answering.
	ReasonMediaRelayLost = "media relay lost"
	ReasonACKTimeout     = "ack timeout" // the caller never ACKed our 200
	ReasonAdminKill      = "admin kill"
	ReasonShutdown       = "shutdown"
	ReasonCrashed        = "switch restart" // connected when Tollgate died; written from the journal
	ReasonNodeLost       = "node lost"      // connected on a cluster node that died; written by a survivor

	// ReasonRadiusDisconnect: a RADIUS Disconnect-Request (RFC 5176) ended it.
	ReasonRadiusDisconnect = "radius disconnect"
	// ReasonCreditNotRenewed: a prepaid call's re-authorisation was refused
	// or not answered, and its last grant ran out.
	ReasonCreditNotRenewed = "credit not renewed"
	// ReasonSessionTimer: a leg's RFC 4028 session expired, its refresh
	// neither received nor answered.
	ReasonSessionTimer = "session timer expired"
	// ReasonKeepalive: an in-dialog keepalive was answered 408 or 481, or
	// not at all: the peer has lost the dialog.
	ReasonKeepalive = "keepalive failed"
	// ReasonNoPRACK: the caller never PRACKed the switch's reliable 18x
	// (RFC 3262 3): it got a 5xx, the gateway a CANCEL.
	ReasonNoPRACK = "no prack"
)

// Who released the call.
const (
	ReleasedByCaller = "caller"
	ReleasedByCallee = "callee"
	ReleasedBySwitch = "switch"
)
