package cdr

import (
	stdjson "encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The spool's records and the journal's entries are written by hand, field
// by field, into the caller's buffer: every call encodes its record two to
// four times (the journal's setup and connected entries, the spool), and a
// reflective encoder spent most of that time on the twelve RTP figures'
// MarshalJSON, on time.Time through its Marshaler, and on allocations. The
// bytes are exactly encoding/json's for the same value (FuzzRecordJSON holds
// the two together), so the files read as they always did: by older
// Tollgates after a downgrade, by other nodes in a cluster, by hand.
//
// What the hand-written path cannot write exactly as encoding/json would (a
// time outside years 0–9999, a MOS that is not a number, accounting JSON
// that is not already compact and escaped) makes it report false, and the
// caller falls back to the reflective encoder, which writes it or returns
// encoding/json's error.

// recordForm is which of the two encodings of a record is written.
type recordForm int

const (
	// formFull writes every field: the spool's record, Record's JSON.
	formFull recordForm = iota
	// formLive leaves out the fields still zero (omitzero): a journal
	// entry of a call not yet over, whose disconnect time, duration, RTP
	// figures and most RADIUS results are unknown yet.
	formLive
)

// jsonObject appends one JSON object's members, a comma before each but
// the first.
type jsonObject struct {
	b       []byte
	members int
	form    recordForm
	// exact turns false once a value cannot be written as encoding/json
	// writes it; the caller then uses encoding/json's output.
	exact bool
}

func (o *jsonObject) key(name string) {
	if o.members > 0 {
		o.b = append(o.b, ',')
	}
	o.members++
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

// keep says whether a field is written: all are, but zero ones in formLive.
func (o *jsonObject) keep(zero bool) bool { return o.form == formFull || !zero }

func (o *jsonObject) str(name, v string) {
	if o.keep(v == "") {
		o.key(name)
		o.b = appendJSONString(o.b, v)
	}
}

func (o *jsonObject) int(name string, v int64) {
	if o.keep(v == 0) {
		o.key(name)
		o.b = strconv.AppendInt(o.b, v, 10)
	}
}

func (o *jsonObject) bool(name string, v bool) {
	if o.keep(!v) {
		o.key(name)
		o.b = strconv.AppendBool(o.b, v)
	}
}

func (o *jsonObject) time(name string, t time.Time) {
	if o.keep(t.IsZero()) {
		o.key(name)
		o.b = o.appendTime(o.b, t)
	}
}

// appendTime writes t as time.Time's MarshalJSON does, which refuses a year
// that is not four digits and a zone offset of a day or more.
func (o *jsonObject) appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	start := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	switch {
	case len(b)-start < len("2006-01-02T15:04:05Z") || b[start+4] != '-':
		o.exact = false
	case b[len(b)-1] != 'Z':
		zone := b[len(b)-len("-07:00"):]
		if zone[0] != '+' && zone[0] != '-' || zone[1] > '2' || zone[1] == '2' && zone[2] >= '4' {
			o.exact = false
		}
	}
	return append(b, '"')
}

func (o *jsonObject) uint(name string, v Maybe[uint64]) {
	o.key(name)
	if !v.Known {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = strconv.AppendUint(o.b, v.V, 10)
}

func (o *jsonObject) duration(name string, v Maybe[time.Duration]) {
	o.key(name)
	if !v.Known {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = strconv.AppendInt(o.b, int64(v.V), 10)
}

// float writes v as encoding/json writes a float64: like %g, but with the
// exponent only below 1e-6 and from 1e21, and not padded to two digits.
func (o *jsonObject) float(name string, v Maybe[float64]) {
	o.key(name)
	if !v.Known {
		o.b = append(o.b, "null"...)
		return
	}
	f := v.V
	if math.IsNaN(f) || math.IsInf(f, 0) {
		o.exact = false
		o.b = append(o.b, '0')
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	o.b = strconv.AppendFloat(o.b, f, format, -1, 64)
	if n := len(o.b); format == 'e' && n >= 4 && o.b[n-4] == 'e' && o.b[n-3] == '-' && o.b[n-2] == '0' {
		o.b[n-2] = o.b[n-1]
		o.b = o.b[:n-1]
	}
}

// open starts a nested object, written whole (omitzero is the outer
// field's, not its members'); close ends it.
func (o *jsonObject) open(name string) jsonObject {
	o.key(name)
	return jsonObject{b: append(o.b, '{'), form: formFull, exact: true}
}

func (o *jsonObject) close(in *jsonObject) {
	o.b = append(in.b, '}')
	o.exact = o.exact && in.exact
}

func (o *jsonObject) rtp(name string, s *RTPStats) {
	if !o.keep(*s == RTPStats{}) { // -0 is zero here, as to encoding/json
		return
	}
	in := o.open(name)
	in.uint("packets", s.Packets)
	in.uint("bytes", s.Bytes)
	in.uint("lost", s.Lost)
	in.duration("jitter", s.Jitter)
	in.duration("rtt", s.RTT)
	in.float("mos", s.MOS)
	o.close(&in)
}

func (o *jsonObject) radius(name string, r *RADIUS) {
	if !o.keep(*r == RADIUS{}) {
		return
	}
	in := o.open(name)
	in.str("auth", r.Auth)
	in.str("auth_method", r.AuthMethod)
	in.str("server", r.Server)
	in.int("return_code", int64(r.ReturnCode))
	in.int("latency", int64(r.Latency))
	in.int("acct_starts", int64(r.AcctStarts))
	in.int("acct_interims", int64(r.AcctInterims))
	in.int("acct_stops", int64(r.AcctStops))
	in.int("acct_queued", int64(r.AcctQueued))
	o.close(&in)
}

func (o *jsonObject) attempts(name string, as []Attempt) {
	if !o.keep(as == nil) {
		return
	}
	o.key(name)
	o.attemptList(as)
}

// attemptList writes as, the value alone.
func (o *jsonObject) attemptList(as []Attempt) {
	if as == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '[')
	for i := range as {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		a := &as[i]
		in := jsonObject{b: append(o.b, '{'), form: formFull, exact: true}
		in.str("gateway", a.Gateway)
		in.str("call_id", a.CallID)
		in.time("start", a.Start)
		in.time("end", a.End)
		in.int("sip_code", int64(a.SIPCode))
		in.str("sip_reason", a.SIPReason)
		in.bool("ringing", a.Ringing)
		in.bool("answered", a.Answered)
		o.close(&in)
	}
	o.b = append(o.b, ']')
}

// record writes r's fields in Record's order.
func (o *jsonObject) record(r *Record) {
	o.str("id", r.ID)
	o.str("conf_id", r.ConfID)
	o.str("call_id_a", r.CallIDA)
	o.str("call_id_b", r.CallIDB)
	o.str("caller_number", r.CallerNumber)
	o.str("caller_name", r.CallerName)
	o.str("called_received", r.CalledReceived)
	o.str("called_sent", r.CalledSent)
	o.str("source_ip", r.SourceIP)
	o.int("source_port", int64(r.SourcePort))
	o.str("account", r.Account)
	o.str("route", r.Route)
	o.str("gateway", r.Gateway)
	o.attempts("attempts", r.Attempts)
	o.time("setup_time", r.SetupTime)
	o.time("ringing_time", r.RingingTime)
	o.time("connect_time", r.ConnectTime)
	o.time("disconnect_time", r.DisconnectTime)
	o.int("duration", int64(r.Duration))
	o.int("billed_seconds", int64(r.BilledSeconds))
	o.int("post_dial_delay", int64(r.PostDialDelay))
	o.int("sip_code", int64(r.SIPCode))
	o.str("sip_reason", r.SIPReason)
	o.int("q850_cause", int64(r.Q850Cause))
	o.str("released_by", r.ReleasedBy)
	o.str("disconnect_reason", r.DisconnectReason)
	o.int("credit_granted", int64(r.CreditGranted))
	o.str("codec_a", r.CodecA)
	o.str("codec_b", r.CodecB)
	o.str("media_relay", r.MediaRelay)
	o.rtp("rtp_a_to_b", &r.RTPAtoB)
	o.rtp("rtp_b_to_a", &r.RTPBtoA)
	o.str("user_agent_a", r.UserAgentA)
	o.str("user_agent_b", r.UserAgentB)
	o.radius("radius", &r.RADIUS)
	o.str("node", r.Node)
}

// appendRecordJSON appends r as encoding/json writes a Record (form
// formFull) or, with the accounting sessions of a journal entry, a
// journalEntry (formLive), and reports whether the bytes are exactly
// encoding/json's.
func appendRecordJSON(dst []byte, r *Record, form recordForm, accounting []byte) ([]byte, bool) {
	o := jsonObject{b: append(dst, '{'), form: form, exact: true}
	o.record(r)
	o.accounting(accounting)
	return append(o.b, '}'), o.exact
}

// accounting writes a journal entry's accounting sessions (omitempty)
// as encoding/json writes a json.RawMessage: compacted, with <, >, & and
// U+2028/U+2029 escaped. The switch hands over what a JSON encoder wrote,
// already so; anything else is left to encoding/json.
func (o *jsonObject) accounting(raw []byte) {
	if len(raw) == 0 {
		return
	}
	if !compactAndEscaped(raw) {
		o.exact = false
		return
	}
	o.key("accounting")
	o.b = append(o.b, raw...)
}

// compactAndEscaped says whether raw is one valid JSON value with no
// whitespace between its tokens and nothing encoding/json would escape:
// encoding/json then writes it unchanged.
func compactAndEscaped(raw []byte) bool {
	inString, escaped := false, false
	for i, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xe2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xa8 || raw[i+2] == 0xa9):
			return false // U+2028, U+2029
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return stdjson.Valid(raw)
}

// appendJSONString appends s quoted as encoding/json quotes a string with
// HTML escaping on (json.Marshal's default): ", \ and control characters
// escaped, <, > and & as \u003c, \u003e, \u0026, U+2028 and U+2029 as
// \u2028 and \u2029, and invalid UTF-8 as \ufffd.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainJSON[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainJSON are the ASCII bytes a JSON string holds as they are, with HTML
// escaping on.
var plainJSON = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
