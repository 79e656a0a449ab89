package rtpproxyctl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DTMF are the digits a relay detected in the RFC 4733 telephone-events
// of a call (Tollgate's relay with rtprelay_dtmf_detection: the O
// sub-command's dtmf_detect), per party, oldest first; the relay keeps
// the last 32 of each stream.
type DTMF struct {
	FromCaller, FromCallee string
}

// QueryDTMF asks a relay that has the RTP options (Features.RTPOpts) for
// the digits detected in one media session: first those of the party whose
// tag is fromTag.
func (c *Client) QueryDTMF(ctx context.Context, callID, fromTag, toTag string) (ina, ino string, err error) {
	body, err := c.t.exchange(ctx, "Qv "+callID+" "+fromTag+" "+toTag+" tg_dtmf_ina tg_dtmf_ino")
	if err != nil {
		return "", "", err
	}
	return ParseDTMF(body)
}

// ParseDTMF reads the reply to a Qv of tg_dtmf_ina and tg_dtmf_ino: "-"
// for no digit, else the digits 0-9, *, #, A-D.
func ParseDTMF(body string) (ina, ino string, err error) {
	if err := replyError(body); err != nil {
		return "", "", err
	}
	f := strings.Fields(body)
	if len(f) != 2 {
		return "", "", fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	var out [2]string
	for i, name := range []string{"tg_dtmf_ina=", "tg_dtmf_ino="} {
		v, ok := strings.CutPrefix(f[i], name)
		if !ok || v == "" || (v != "-" && strings.Trim(v, "0123456789*#ABCD") != "") {
			return "", "", fmt.Errorf("%w: %q", ErrMalformedReply, body)
		}
		if v != "-" {
			out[i] = v
		}
	}
	return out[0], out[1], nil
}

// DTMF asks the relay for the digits detected in the call's streams so
// far, each stream's in turn (media number order). A relay without the RTP
// options, or a call not anchored yet, has none to tell.
func (s *Session) DTMF(ctx context.Context) (DTMF, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d DTMF
	r := s.relay
	if s.deleted || r == nil || !r.client.Features().RTPOpts {
		return d, nil
	}
	if !r.up() {
		return d, fmt.Errorf("rtpproxy %s: %w", r.cfg.Address, ErrRelayDown)
	}
	indexes := make([]int, 0, len(s.streams))
	for i := range s.streams {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	for _, i := range indexes {
		ss := s.streams[i]
		n := ";" + strconv.Itoa(i+1)
		other := s.tagOf(ss.creator.Other())
		if other == "" {
			continue // no answer yet: no media either
		}
		ina, ino, err := r.client.QueryDTMF(ctx, s.d.CallID, s.tagOf(ss.creator)+n, other+n)
		if err != nil {
			return d, fmt.Errorf("rtpproxy %s: call %s stream %d: %w", r.cfg.Address, s.d.CallID, i, err)
		}
		if ss.creator == Caller {
			d.FromCaller, d.FromCallee = d.FromCaller+ina, d.FromCallee+ino
		} else {
			d.FromCaller, d.FromCallee = d.FromCaller+ino, d.FromCallee+ina
		}
	}
	return d, nil
}

// DTMFEvent is one digit carried between RFC 4733 and SIP INFO: 0-9, *,
// #, A-D, and how long the key was held.
type DTMFEvent struct {
	Digit    byte
	Duration time.Duration
}

// maxEventDuration is the longest digit the relay sends: the RFC 4733
// duration field at 8 kHz holds 8.19 s.
const maxEventDuration = 8 * time.Second

// SendDTMF has the relay send ev as RFC 4733 telephone-events of payload
// type pt to side `to`, in the media the other side sends it (the call's
// first stream): the INFO side of DTMF interworking. It needs a relay with
// Features.DTMF; the call must be answered (both tags known).
func (s *Session) SendDTMF(ctx context.Context, to Side, ev DTMFEvent, pt int) error {
	if strings.IndexByte(dtmfDigits, ev.Digit) < 0 || ev.Duration <= 0 || pt < 0 || pt > 127 {
		return fmt.Errorf("rtpproxy: DTMF %q for %v, payload type %d: %w", ev.Digit, ev.Duration, pt, ErrBadDTMF)
	}
	ms := min(ev.Duration, maxEventDuration).Milliseconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relay
	if s.deleted || r == nil || len(s.streams) == 0 {
		return ErrNoMedia
	}
	if !r.client.Features().DTMF {
		return fmt.Errorf("rtpproxy %s: %w", r.cfg.Address, ErrNoDTMF)
	}
	if !r.up() {
		return fmt.Errorf("rtpproxy %s: %w", r.cfg.Address, ErrRelayDown)
	}
	i := slices.Min(slices.Collect(maps.Keys(s.streams)))
	ss := s.streams[i]
	n := ";" + strconv.Itoa(i+1)
	other := s.tagOf(ss.creator.Other())
	if other == "" {
		return ErrNoMedia
	}
	sub := "E"
	if to != ss.creator {
		sub = "Er"
	}
	body, err := r.client.t.exchange(ctx, fmt.Sprintf("Q %s %s %s && %s %c %d %d", s.d.CallID, s.tagOf(ss.creator)+n, other+n, sub, ev.Digit, ms, pt))
	if err == nil {
		err = replyError(body)
	}
	if err == nil && strings.Contains(body, "&& -") {
		err = fmt.Errorf("%w: %q", ErrDTMFRefused, body)
	}
	if err != nil {
		return fmt.Errorf("rtpproxy %s: call %s: DTMF: %w", r.cfg.Address, s.d.CallID, err)
	}
	return nil
}

// dtmfDigits are the digits RFC 4733 events 0-15 stand for.
const dtmfDigits = "0123456789*#ABCD"

// Errors of SendDTMF.
var (
	ErrBadDTMF     = errors.New("not a DTMF digit, duration or payload type")
	ErrNoMedia     = errors.New("rtpproxy: the call has no media session with both parties yet")
	ErrNoDTMF      = errors.New("relay cannot send DTMF (no VF tollgate_dtmf)")
	ErrDTMFRefused = errors.New("relay refused the digit (16 already waiting)")
)

// parseDTMFNotice reads a relay's line "<tag> dtmf <from-tag> <party>
// <digit> <ms>" (dtmf_notify); ok is false for any other line (a timeout's
// bare tag).
func parseDTMFNotice(line string) (tag, fromTag string, party int, ev DTMFEvent, ok bool) {
	f := strings.Fields(line)
	if len(f) != 6 || f[1] != "dtmf" || len(f[4]) != 1 || strings.IndexByte(dtmfDigits, f[4][0]) < 0 {
		return "", "", 0, ev, false
	}
	p, err1 := strconv.Atoi(f[3])
	ms, err2 := strconv.Atoi(f[5])
	if err1 != nil || err2 != nil || (p != 0 && p != 1) || ms < 0 {
		return "", "", 0, ev, false
	}
	return f[0], f[2], p, DTMFEvent{Digit: f[4][0], Duration: time.Duration(ms) * time.Millisecond}, true
}

// dtmfFrom is the side that sent a digit the relay told: party 0 is the
// one the session's from-tag (the creator's, with its ;N) names.
func (s *Session) dtmfFrom(fromTag string, party int) (Side, bool) {
	tag, _, _ := strings.Cut(fromTag, ";")
	var creator Side
	switch tag {
	case s.d.CallerTag:
		creator = Caller
	case s.d.CalleeTag:
		creator = Callee
	default:
		return 0, false
	}
	if party == 1 {
		return creator.Other(), true
	}
	return creator, true
}
