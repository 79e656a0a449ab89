package rtpproxyctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
		other := s.tagOf(ss.creator.other())
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
