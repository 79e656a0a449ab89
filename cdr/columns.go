package cdr

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5/pgtype"
)

// columns is the cdrs table as the writer fills it and Search, Export and the
// CSV files read it — one list, so the three cannot drift apart. The CSV
// header uses the same names.
var columns = []string{
	"id", "conf_id", "call_id_a", "call_id_b",
	"caller_number", "caller_name", "called_received", "called_sent",
	"source_ip", "source_port", "account", "route", "gateway",
	"attempt_count", "attempts",
	"setup_time", "ringing_time", "connect_time", "disconnect_time",
	"duration_ms", "billed_seconds", "post_dial_delay_ms",
	"sip_code", "sip_reason", "q850_cause", "released_by", "disconnect_reason",
	"credit_granted_ms", "codec_a", "codec_b", "media_relay",
	"rtp_a_to_b_packets", "rtp_a_to_b_bytes", "rtp_a_to_b_lost", "rtp_a_to_b_jitter_us",
	"rtp_b_to_a_packets", "rtp_b_to_a_bytes", "rtp_b_to_a_lost", "rtp_b_to_a_jitter_us",
	"user_agent_a", "user_agent_b",
	// Added in migration 00003; appended, so older CSV readers that go by
	// position still find every earlier column where it was.
	"radius_auth", "radius_auth_method", "radius_server", "radius_return_code", "radius_latency_us",
	"radius_acct_starts", "radius_acct_interims", "radius_acct_stops", "radius_acct_queued",
	// Added in migration 00005.
	"node",
	// Added in migration 00012.
	"rtp_a_to_b_rtt_us", "rtp_a_to_b_mos", "rtp_b_to_a_rtt_us", "rtp_b_to_a_mos",
}

var columnList = strings.Join(columns, ", ")

// clean makes a string storable in a PostgreSQL text or jsonb value, which
// refuse NUL bytes and invalid UTF-8. SIP headers can carry either, and one
// unstorable CDR must not block the spool forever.
func clean(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// storable says whether PostgreSQL stores s as it is (clean leaves it).
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func clampInt32(v int) int32 {
	return int32(max(math.MinInt32, min(math.MaxInt32, v)))
}

func clampUint64(v uint64) int64 {
	return int64(min(v, math.MaxInt64))
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// dbCount and dbMicros are column values: NULL for a figure nobody knows.
func dbCount(m Maybe[uint64]) any {
	if !m.Known {
		return nil
	}
	return clampUint64(m.V)
}

func dbMicros(m Maybe[time.Duration]) any {
	if !m.Known {
		return nil
	}
	return m.V.Microseconds()
}

func dbFloat(m Maybe[float64]) any {
	if !m.Known {
		return nil
	}
	return m.V
}

func floatOf(v pgtype.Float8) Maybe[float64] {
	if !v.Valid {
		return Maybe[float64]{}
	}
	return Maybe[float64]{V: v.Float64, Known: true}
}

func countOf(v pgtype.Int8) Maybe[uint64] {
	if !v.Valid {
		return Maybe[uint64]{}
	}
	return Known(uint64(v.Int64))
}

func microsOf(v pgtype.Int8) Maybe[time.Duration] {
	if !v.Valid {
		return Maybe[time.Duration]{}
	}
	return KnownDuration(time.Duration(v.Int64) * time.Microsecond)
}

// dbTime is a column value: NULL for a time the call never reached, and
// millisecond precision as the schema says — truncated here so that the
// stored value is predictable (timestamptz(3) alone would round).
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Millisecond).UTC()
}

func uuidBytes(s string) ([16]byte, error) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("cdr: bad UUID %q", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("cdr: bad UUID %q: %w", s, err)
	}
	return u, nil
}

func cleanAttempts(as []Attempt) []Attempt {
	if as == nil {
		return []Attempt{}
	}
	out := make([]Attempt, len(as))
	for i, a := range as {
		a.Gateway, a.CallID, a.SIPReason = clean(a.Gateway), clean(a.CallID), clean(a.SIPReason)
		out[i] = a
	}
	return out
}

// values returns rec as the row of columns, for COPY.
func values(rec Record, row []any) ([]any, error) {
	id, err := uuidBytes(rec.ID)
	if err != nil {
		return nil, err
	}
	attempts, err := json.Marshal(cleanAttempts(rec.Attempts))
	if err != nil {
		return nil, fmt.Errorf("cdr: encode attempts of %s: %w", rec.ID, err)
	}
	return append(row[:0],
		id, clean(rec.ConfID), clean(rec.CallIDA), clean(rec.CallIDB),
		clean(rec.CallerNumber), clean(rec.CallerName), clean(rec.CalledReceived), clean(rec.CalledSent),
		clean(rec.SourceIP), clampInt32(rec.SourcePort), clean(rec.Account), clean(rec.Route), clean(rec.Gateway),
		clampInt32(len(rec.Attempts)), attempts,
		dbTime(rec.SetupTime), dbTime(rec.RingingTime), dbTime(rec.ConnectTime), dbTime(rec.DisconnectTime),
		ms(rec.Duration), clampInt32(rec.BilledSeconds), ms(rec.PostDialDelay),
		clampInt32(rec.SIPCode), clean(rec.SIPReason), clampInt32(rec.Q850Cause), clean(rec.ReleasedBy), clean(rec.DisconnectReason),
		ms(rec.CreditGranted), clean(rec.CodecA), clean(rec.CodecB), clean(rec.MediaRelay),
		dbCount(rec.RTPAtoB.Packets), dbCount(rec.RTPAtoB.Bytes), dbCount(rec.RTPAtoB.Lost), dbMicros(rec.RTPAtoB.Jitter),
		dbCount(rec.RTPBtoA.Packets), dbCount(rec.RTPBtoA.Bytes), dbCount(rec.RTPBtoA.Lost), dbMicros(rec.RTPBtoA.Jitter),
		clean(rec.UserAgentA), clean(rec.UserAgentB),
		clean(rec.RADIUS.Auth), clean(rec.RADIUS.AuthMethod), clean(rec.RADIUS.Server), clampInt32(rec.RADIUS.ReturnCode), rec.RADIUS.Latency.Microseconds(),
		clampInt32(rec.RADIUS.AcctStarts), clampInt32(rec.RADIUS.AcctInterims), clampInt32(rec.RADIUS.AcctStops), clampInt32(rec.RADIUS.AcctQueued),
		clean(rec.Node),
		dbMicros(rec.RTPAtoB.RTT), dbFloat(rec.RTPAtoB.MOS), dbMicros(rec.RTPBtoA.RTT), dbFloat(rec.RTPBtoA.MOS),
	), nil
}

// scanner decodes rows selected with columnList into Records, reusing its
// destinations between rows.
type scanner struct {
	id                            pgtype.UUID
	attemptCount                  int32
	attempts                      []byte
	setup, ringing, connect, disc pgtype.Timestamptz
	durMS, pddMS, creditMS        int64
	port, billed, code, q850      int32
	aPk, aBy, aLost, aJit         pgtype.Int8 // NULL: not known
	bPk, bBy, bLost, bJit         pgtype.Int8
	aRTT, bRTT                    pgtype.Int8
	aMOS, bMOS                    pgtype.Float8
	radCode, radStarts            int32
	radInterims, radStops, radQ   int32
	radLatUS                      int64
	dest                          []any
	rec                           Record
}

func newScanner() *scanner {
	s := &scanner{}
	r := &s.rec
	s.dest = []any{
		&s.id, &r.ConfID, &r.CallIDA, &r.CallIDB,
		&r.CallerNumber, &r.CallerName, &r.CalledReceived, &r.CalledSent,
		&r.SourceIP, &s.port, &r.Account, &r.Route, &r.Gateway,
		&s.attemptCount, &s.attempts,
		&s.setup, &s.ringing, &s.connect, &s.disc,
		&s.durMS, &s.billed, &s.pddMS,
		&s.code, &r.SIPReason, &s.q850, &r.ReleasedBy, &r.DisconnectReason,
		&s.creditMS, &r.CodecA, &r.CodecB, &r.MediaRelay,
		&s.aPk, &s.aBy, &s.aLost, &s.aJit,
		&s.bPk, &s.bBy, &s.bLost, &s.bJit,
		&r.UserAgentA, &r.UserAgentB,
		&r.RADIUS.Auth, &r.RADIUS.AuthMethod, &r.RADIUS.Server, &s.radCode, &s.radLatUS,
		&s.radStarts, &s.radInterims, &s.radStops, &s.radQ,
		&r.Node,
		&s.aRTT, &s.aMOS, &s.bRTT, &s.bMOS,
	}
	return s
}

type rowScanner interface{ Scan(dest ...any) error }

func (s *scanner) scan(row rowScanner) (Record, error) {
	s.rec = Record{}
	s.attempts = s.attempts[:0]
	if err := row.Scan(s.dest...); err != nil {
		return Record{}, fmt.Errorf("cdr: scan: %w", err)
	}
	r := s.rec
	r.ID = formatUUID(s.id.Bytes)
	r.SourcePort = int(s.port)
	if len(s.attempts) > 0 && string(s.attempts) != "[]" {
		if err := json.Unmarshal(s.attempts, &r.Attempts); err != nil {
			return Record{}, fmt.Errorf("cdr: attempts of %s: %w", r.ID, err)
		}
	}
	r.SetupTime, r.RingingTime, r.ConnectTime, r.DisconnectTime = tsTime(s.setup), tsTime(s.ringing), tsTime(s.connect), tsTime(s.disc)
	r.Duration = time.Duration(s.durMS) * time.Millisecond
	r.BilledSeconds = int(s.billed)
	r.PostDialDelay = time.Duration(s.pddMS) * time.Millisecond
	r.SIPCode, r.Q850Cause = int(s.code), int(s.q850)
	r.CreditGranted = time.Duration(s.creditMS) * time.Millisecond
	r.RTPAtoB = RTPStats{Packets: countOf(s.aPk), Bytes: countOf(s.aBy), Lost: countOf(s.aLost), Jitter: microsOf(s.aJit),
		RTT: microsOf(s.aRTT), MOS: floatOf(s.aMOS)}
	r.RTPBtoA = RTPStats{Packets: countOf(s.bPk), Bytes: countOf(s.bBy), Lost: countOf(s.bLost), Jitter: microsOf(s.bJit),
		RTT: microsOf(s.bRTT), MOS: floatOf(s.bMOS)}
	r.RADIUS.ReturnCode, r.RADIUS.Latency = int(s.radCode), time.Duration(s.radLatUS)*time.Microsecond
	r.RADIUS.AcctStarts, r.RADIUS.AcctInterims = int(s.radStarts), int(s.radInterims)
	r.RADIUS.AcctStops, r.RADIUS.AcctQueued = int(s.radStops), int(s.radQ)
	return r, nil
}

func tsTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
