package rtpproxyctl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate/tollgate/cdr"
)

// Session is the MediaRelay of one call on a Pool's rtpproxy.
type Session struct {
	pool *Pool
	d    Dialog

	mu      sync.Mutex
	relay   *relay // chosen at the first Offer; the call sticks to it
	tag     string // notify tag, "" when not registered
	streams map[int]*streamState
	deleted bool
}

// streamState is what the call knows of one media session on the relay.
type streamState struct {
	creator Side        // who sent the U that created it: Q's first tag
	last    [2]Endpoint // last endpoint returned for an SDP sent towards each side
	// clock is the RTP clock of the codec in use, for the jitter: the
	// first codec of the last answer, which is the one the answerer chose
	// (RFC 3264), or of the offer until an answer comes.
	clock int
	// counted are the stream's counters at the last poll while the call
	// was up: what Delete reports when the relay no longer has the
	// session (it timed out, and rtpproxy deletes a session before it
	// notifies) or no longer answers.
	counted Stats
}

// Name returns the relay's address ("" before the first Offer).
func (s *Session) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relay == nil {
		return ""
	}
	return s.relay.cfg.Address
}

// Offer sends U for every enabled stream of an SDP from `from`. The first
// Offer of a call chooses a relay, and moves to another if the chosen one
// does not answer; afterwards the call stays on its relay.
func (s *Session) Offer(ctx context.Context, from Side, streams []Stream) ([]Endpoint, error) {
	return s.anchor(ctx, 'U', from, streams)
}

// Answer sends L for every enabled stream of an SDP answer from `from`.
func (s *Session) Answer(ctx context.Context, from Side, streams []Stream) ([]Endpoint, error) {
	return s.anchor(ctx, 'L', from, streams)
}

func (s *Session) anchor(ctx context.Context, op byte, from Side, streams []Stream) ([]Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return nil, fmt.Errorf("rtpproxy: call %s: media session already deleted", s.d.CallID)
	}
	if s.relay == nil {
		if op == 'L' {
			return nil, fmt.Errorf("rtpproxy: call %s: answer before any offer: %w", s.d.CallID, ErrNotFound)
		}
		return s.firstOffer(ctx, from, streams)
	}
	if !s.relay.up() {
		return s.keepSettings(from, streams, ErrRelayDown)
	}
	out, err := s.send(ctx, s.relay, op, from, streams)
	if errors.Is(err, ErrTimeout) {
		s.pool.failed(s.relay, err)
		return s.keepSettings(from, streams, err)
	}
	return out, err
}

// firstOffer places a new call on a relay, trying the others in turn
// while the chosen one does not answer.
func (s *Session) firstOffer(ctx context.Context, from Side, streams []Stream) ([]Endpoint, error) {
	var tried []*relay
	for {
		r := s.pool.pick(tried)
		if r == nil {
			return nil, fmt.Errorf("rtpproxy: call %s: %w", s.d.CallID, ErrNoRelay)
		}
		tried = append(tried, r)
		if s.pool.cfg.NotifySocket != "" && r.client.Features().Notify && s.tag == "" {
			s.tag = s.pool.newTag(s)
		}
		out, err := s.send(ctx, r, 'U', from, streams)
		if errors.Is(err, ErrTimeout) {
			s.pool.failed(r, err)
			clear(s.streams)
			continue
		}
		if err != nil {
			if len(s.streams) > 0 {
				// Streams before the failing one were created: release them
				// now rather than at the relay's setup timeout.
				_ = r.client.Delete(ctx, s.d.CallID, s.tagOf(from), s.tagOf(from.Other()))
			}
			s.forgetTag()
			clear(s.streams)
			return nil, err
		}
		s.relay = r
		s.pool.track(s, r)
		return out, nil
	}
}

// keepSettings answers for a call whose relay stopped answering: the
// signalling goes on with the endpoints the relay gave before, so a
// re-INVITE during an outage does not tear the call down. A stream never
// anchored before has nothing to keep, and fails.
func (s *Session) keepSettings(from Side, streams []Stream, cause error) ([]Endpoint, error) {
	out := make([]Endpoint, len(streams))
	to := from.Other()
	for i, st := range streams {
		if st.Port == 0 {
			continue
		}
		ss := s.streams[st.Index]
		if ss == nil || ss.last[to].Port == 0 {
			return nil, fmt.Errorf("rtpproxy: call %s stream %d: %w (%w)", s.d.CallID, st.Index, ErrRelayDown, cause)
		}
		out[i] = ss.last[to]
		if st.Addr.IsUnspecified() && !s.pool.cfg.AnchorHold {
			out[i].Addr = holdAddr(out[i].Addr)
		}
	}
	s.pool.log.Warn("rtpproxy not answering, call keeps its media settings", "call_id", s.d.CallID, "relay", s.relay.cfg.Address)
	return out, nil
}

// send runs U or L for each enabled stream on r.
func (s *Session) send(ctx context.Context, r *relay, op byte, from Side, streams []Stream) ([]Endpoint, error) {
	out := make([]Endpoint, len(streams))
	to := from.Other()
	for i, st := range streams {
		if st.Port == 0 {
			continue
		}
		if st.Port < 0 || st.Port > 65535 || !st.Addr.IsValid() {
			return nil, fmt.Errorf("rtpproxy: call %s stream %d: bad media address %v port %d", s.d.CallID, st.Index, st.Addr, st.Port)
		}
		req := Request{
			CallID:       s.d.CallID,
			Addr:         st.Addr,
			Port:         st.Port,
			PayloadTypes: st.PayloadTypes,
			Formats:      st.Formats,
			Options:      st.Options,
			Toward:       st.Toward,
			Local:        st.Local,
		}
		n := ";" + strconv.Itoa(st.Index+1)
		// U names the SDP's sender first; L names the offerer first, i.e.
		// the side this answer goes to (rtpproxy's find_stream rules).
		first, second := from, to
		if op == 'L' {
			first, second = to, from
		}
		req.FromTag = s.tagOf(first) + n
		if t := s.tagOf(second); t != "" {
			req.ToTag = t + n
		}
		var ep Endpoint
		var err error
		if op == 'U' {
			if s.tag != "" {
				req.NotifySocket, req.NotifyTag = s.pool.cfg.NotifySocket, s.tag
			}
			ep, err = r.client.Update(ctx, req)
		} else {
			ep, err = r.client.Lookup(ctx, req)
		}
		if err != nil {
			return nil, fmt.Errorf("rtpproxy %s: call %s stream %d: %c: %w", r.cfg.Address, s.d.CallID, st.Index, op, err)
		}
		if !ep.Addr.IsValid() {
			adv := r.cfg.Advertise
			if req.portIs6() {
				adv = r.cfg.Advertise6
			}
			if !adv.IsValid() {
				return nil, fmt.Errorf("rtpproxy %s replied with a port only and no advertised address of that family is configured: %w", r.cfg.Address, ErrMalformedReply)
			}
			ep.Addr = adv
		}
		ss := s.streams[st.Index]
		if ss == nil {
			ss = &streamState{creator: from}
			s.streams[st.Index] = ss
		}
		ss.last[to] = ep
		if st.ClockRate > 0 && (op == 'L' || ss.clock == 0) {
			ss.clock = st.ClockRate
		}
		if st.Addr.IsUnspecified() && !s.pool.cfg.AnchorHold {
			ep.Addr = holdAddr(ep.Addr)
		}
		out[i] = ep
	}
	return out, nil
}

func (s *Session) tagOf(side Side) string {
	if side == Caller {
		return s.d.CallerTag
	}
	return s.d.CalleeTag
}

func (s *Session) forgetTag() {
	if s.tag != "" {
		s.pool.dropTag(s.tag)
		s.tag = ""
	}
}

// Delete collects each stream's counters and deletes the call's sessions.
// On a relay that keeps per-direction loss, jitter or bytes (named Q) it
// asks, per stream, first the answering party's counters (Q with the tags
// swapped: rtpproxy analyses each direction's stream on its own) and then
// the creator's with Q ... && D: two round trips per stream instead of one.
// On an older relay it sends the plain Q ... && D, or Q then one D per
// creating side. A stream whose counters cannot be read (the relay ended
// it at a media timeout, or stopped answering) counts what the last poll
// saw (Config.CounterInterval). On a relay that is out of service it
// returns at once, with those, and ErrRelayDown.
func (s *Session) Delete(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return Stats{}, nil
	}
	s.deleted = true
	s.forgetTag()
	s.pool.untrack(s)
	var st Stats
	r := s.relay
	if r == nil || len(s.streams) == 0 {
		return st, nil
	}
	indexes := make([]int, 0, len(s.streams))
	for i := range s.streams {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	if !r.up() {
		for _, i := range indexes {
			st.merge(s.streams[i].counted)
		}
		return st, fmt.Errorf("rtpproxy %s: call %s: delete skipped: %w", r.cfg.Address, s.d.CallID, ErrRelayDown)
	}
	var errs []error
	undeleted := map[Side]bool{}
	f := r.client.Features()
	for k, i := range indexes {
		ss := s.streams[i]
		if !f.Query {
			undeleted[ss.creator] = true
			continue
		}
		got, ok, deleted, err := s.queryStream(ctx, r, f, i, ss, true)
		if ok {
			st.merge(got)
		} else {
			st.merge(ss.counted)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			continue // already gone: timed out on the relay
		case errors.Is(err, ErrTimeout):
			s.pool.failed(r, err)
			for _, j := range indexes[k+1:] {
				st.merge(s.streams[j].counted)
			}
			return st, fmt.Errorf("rtpproxy %s: call %s: %w", r.cfg.Address, s.d.CallID, err)
		case err != nil:
			errs = append(errs, err)
		}
		if !deleted {
			undeleted[ss.creator] = true
		}
	}
	for _, side := range []Side{Caller, Callee} {
		if !undeleted[side] {
			continue
		}
		// Bare tags: D deletes every media number of the dialog at once.
		err := r.client.Delete(ctx, s.d.CallID, s.tagOf(side), s.tagOf(side.Other()))
		if errors.Is(err, ErrTimeout) {
			s.pool.failed(r, err)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return st, fmt.Errorf("rtpproxy %s: call %s: delete: %w", r.cfg.Address, s.d.CallID, err)
	}
	return st, nil
}

// poll reads the counters of the call's streams while it is up, without
// deleting anything, and keeps them for Delete.
func (s *Session) poll(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relay
	if s.deleted || r == nil || !r.up() {
		return
	}
	f := r.client.Features()
	if !f.Query {
		return
	}
	for i, ss := range s.streams {
		got, ok, _, err := s.queryStream(ctx, r, f, i, ss, false)
		if ok {
			ss.counted = got
		}
		if errors.Is(err, ErrTimeout) {
			s.pool.failed(r, err)
			return
		}
	}
}

// queryStream reads the counters of stream i, deleting it too when del is
// set and the relay can do both in one round trip (deleted reports it). ok
// is false when no counters came back.
func (s *Session) queryStream(ctx context.Context, r *relay, f Features, i int, ss *streamState, del bool) (st Stats, ok, deleted bool, err error) {
	n := ";" + strconv.Itoa(i+1)
	fromTag, toTag := s.tagOf(ss.creator)+n, s.tagOf(ss.creator.Other())
	if toTag != "" {
		toTag += n
	}
	if f.flows() && toTag != "" {
		ok, deleted, err = s.queryFlows(ctx, r, ss, &st, fromTag, toTag, del)
		return st, ok, deleted, err
	}
	c, deleted, err := r.client.Query(ctx, s.d.CallID, fromTag, toTag, del)
	if err != nil {
		return st, false, deleted, err
	}
	st.add(ss.creator, c)
	return st, true, deleted, nil
}

// queryFlows collects one stream's counters with two named Qs, the other
// party's first, then the creator's (with the delete when del is set), and
// folds them into st; ok reports that it did. If only the first fails, the
// second still deletes the stream, and the other party's packets come from
// its npkts_ino.
func (s *Session) queryFlows(ctx context.Context, r *relay, ss *streamState, st *Stats, creatorTag, otherTag string, del bool) (ok, deleted bool, err error) {
	other, _, otherErr := r.client.QueryFlow(ctx, s.d.CallID, otherTag, creatorTag, false)
	if errors.Is(otherErr, ErrNotFound) || errors.Is(otherErr, ErrTimeout) {
		return false, false, otherErr
	}
	c, deleted, err := r.client.QueryFlow(ctx, s.d.CallID, creatorTag, otherTag, del)
	if err != nil {
		return false, deleted, err
	}
	st.addFlow(ss.creator, c, ss.clock)
	if otherErr != nil {
		o := st.flow(ss.creator.Other())
		o.Packets = o.Packets.Add(cdr.Known(c.FromB))
	} else {
		st.addFlow(ss.creator.Other(), other, ss.clock)
	}
	st.Relayed += c.Relayed
	st.Dropped += c.Dropped
	return true, deleted, otherErr
}

// merge adds one stream's counters to the call's.
func (st *Stats) merge(o Stats) {
	for _, side := range []Side{Caller, Callee} {
		d, x := st.flow(side), o.flow(side)
		d.Packets = d.Packets.Add(x.Packets)
		d.Bytes = d.Bytes.Add(x.Bytes)
		d.Lost = d.Lost.Add(x.Lost)
		if !d.Jitter.Known {
			d.Jitter = x.Jitter
		}
		if !d.RTT.Known {
			d.RTT = x.RTT
		}
	}
	st.Relayed += o.Relayed
	st.Dropped += o.Dropped
}

// add folds one media session's plain counters into the call's; Q counts
// first the packets of the party whose tag it was given first.
func (st *Stats) add(first Side, c Counters) {
	a, b := st.flow(first), st.flow(first.Other())
	a.Packets = a.Packets.Add(cdr.Known(c.FromA))
	b.Packets = b.Packets.Add(cdr.Known(c.FromB))
	st.Relayed += c.Relayed
	st.Dropped += c.Dropped
}

// addFlow folds what one party sent through one media session, from a
// named Q that named it first, into the call's counters. clock (Hz) turns
// the jitter from RTP timestamp units into time; without it, or when the
// relay did not answer a counter, that figure stays unknown.
func (st *Stats) addFlow(from Side, c Counters, clock int) {
	d := st.flow(from)
	d.Packets = d.Packets.Add(cdr.Known(c.FromA))
	if c.HasBytes {
		d.Bytes = d.Bytes.Add(cdr.Known(c.BytesA))
	}
	if c.HasLost {
		d.Lost = d.Lost.Add(cdr.Known(c.LostA))
	}
	if !d.RTT.Known && c.HasRTT {
		d.RTT = cdr.KnownDuration(c.RTTA)
	}
	if !d.Jitter.Known && c.HasJitter && clock > 0 {
		d.Jitter = cdr.KnownDuration(time.Duration(c.JitterA / float64(clock) * float64(time.Second)))
	}
}

// flow is the direction of the media the side sends.
func (st *Stats) flow(from Side) *cdr.RTPStats {
	if from == Caller {
		return &st.CallerToCallee
	}
	return &st.CalleeToCaller
}

var _ MediaRelay = (*Session)(nil)

// holdAddr is the RFC 2543 hold address (0.0.0.0, or :: for IPv6) in the
// family of the relay's endpoint ep, which is the family of the party the
// SDP goes to: a caller's 0.0.0.0 reaches an IPv6 gateway as ::.
func holdAddr(ep netip.Addr) netip.Addr {
	if ep.Is6() && !ep.Is4In6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}
