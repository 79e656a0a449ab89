package rtpproxyctl

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Errors a relay operation can return; compare with errors.Is.
var (
	ErrTimeout        = errors.New("rtpproxy: no reply")
	ErrNotFound       = errors.New("rtpproxy: session not found")
	ErrMalformedReply = errors.New("rtpproxy: malformed reply")
	ErrNoRelay        = errors.New("rtpproxy: no relay available")
	ErrRelayDown      = errors.New("rtpproxy: the call's relay is not answering")
	// ErrRefused is matched by the relay's "no capacity" codes (E71, E72,
	// E98, E99): the B2BUA answers 503 rather than retrying elsewhere.
	ErrRefused = errors.New("rtpproxy: relay refused the session")
)

// ProtocolError is an "E<n>" reply (codes in rtpproxy's rtpp_command_ecodes.h).
type ProtocolError struct {
	Code int
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("rtpproxy: error E%d", e.Code) }

// Is maps codes to the sentinels the B2BUA acts on.
func (e *ProtocolError) Is(target error) bool {
	switch target {
	case ErrRefused:
		return e.Code == 71 || e.Code == 72 || e.Code == 98 || e.Code == 99
	case ErrNotFound:
		return e.Code == 50
	}
	return false
}

// splitCookie splits a UDP reply "<cookie> <body>\n" (rtpproxy replies are
// always the cookie, one space, the body).
func splitCookie(dgram string) (cookie, body string, ok bool) {
	cookie, body, ok = strings.Cut(dgram, " ")
	if !ok || cookie == "" {
		return "", "", false
	}
	return cookie, strings.TrimRight(body, "\r\n"), true
}

// replyError returns the error an "E<n>" body stands for, or nil.
func replyError(body string) error {
	if len(body) < 2 || body[0] != 'E' {
		return nil
	}
	code, err := strconv.Atoi(body[1:])
	if err != nil || code < 0 {
		return fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	return &ProtocolError{Code: code}
}

// ParseEndpoint parses a U or L reply: "<port> <addr>[ 6]", or "<port>"
// alone when the relay is bound to a wildcard address (Addr is then
// invalid), "0" when L found no session, or "E<n>". Sub-command replies
// after " && " are ignored.
func ParseEndpoint(body string) (Endpoint, error) {
	if err := replyError(body); err != nil {
		return Endpoint{}, err
	}
	body, _, _ = strings.Cut(body, " && ")
	f := strings.Fields(body)
	if len(f) == 1 && f[0] == "0" {
		return Endpoint{}, ErrNotFound
	}
	if len(f) < 1 || len(f) > 3 {
		return Endpoint{}, fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port < 1 || port > 65535 {
		return Endpoint{}, fmt.Errorf("%w: bad port in %q", ErrMalformedReply, body)
	}
	ep := Endpoint{Port: port}
	if len(f) >= 2 {
		a, err := netip.ParseAddr(f[1])
		if err != nil || a.Zone() != "" {
			return Endpoint{}, fmt.Errorf("%w: bad address in %q", ErrMalformedReply, body)
		}
		ep.Addr = a.Unmap()
	}
	if len(f) == 3 && (f[2] != "6" || !ep.Addr.Is6()) {
		return Endpoint{}, fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	return ep, nil
}

// Counters is a Q reply. The fields after Dropped come from a named Q
// (QueryFlow) only and describe the party whose tag came first; they stay
// zero when the relay does not keep them.
type Counters struct {
	TTL     int    // seconds before the media timeout
	FromA   uint64 // RTP packets received from the party whose tag came first
	FromB   uint64 // RTP packets from the other party
	Relayed uint64
	Dropped uint64
	// BytesA is the UDP payload (RTP header included) received from A:
	// Tollgate's relay only, rtpproxy counts no bytes.
	BytesA uint64
	// LostA is how many of A's packets never arrived, from the RTP sequence
	// numbers (RFC 3550 A.3).
	LostA uint64
	// JitterA is the mean of A's RFC 3550 interarrival jitter estimate over
	// the stream, in RTP timestamp units (rtpproxy's unit): 0 when the
	// relay does not know the payload type's clock.
	JitterA float64
	// RTTA is the mean RTCP round trip between the relay and A (Tollgate's
	// relay only), when it measured one.
	RTTA time.Duration
	// Which of BytesA, LostA, JitterA and RTTA the relay answered: a named
	// Q asks only for what the relay keeps, and the others are unknown,
	// not zero.
	HasBytes, HasLost, HasJitter, HasRTT bool
}

// Counter names a named Q asks for besides the plain five.
const (
	counterLost   = "rtpa_nlost"
	counterJitter = "rtpa_javg"
	counterBytes  = "tg_nbytes_ina" // Tollgate's relay only (capBytes)
	counterRTT    = "tg_rtt_ina"    // Tollgate's relay only (capRTT): µs, "-" when none measured
)

// ParseNamedCounters parses a Qv reply to QueryFlow: "name=value" pairs,
// which must include the plain five counters, then the sub-command results
// (" && <code>") when a sub-command failed; subFailed reports that. A
// name QueryFlow does not ask for, a repeated one, or a value that is not a
// count (for the jitter: a finite, non-negative number) is malformed.
func ParseNamedCounters(body string) (c Counters, subFailed bool, err error) {
	if err := replyError(body); err != nil {
		return Counters{}, false, err
	}
	bad := func() (Counters, bool, error) {
		return Counters{}, false, fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	main, subs, hasSubs := strings.Cut(body, " && ")
	if hasSubs {
		for _, r := range strings.Split(subs, " && ") {
			code, err := strconv.Atoi(r)
			if err != nil {
				return bad()
			}
			subFailed = subFailed || code != 0
		}
	}
	counts := map[string]*uint64{
		"npkts_ina": &c.FromA, "npkts_ino": &c.FromB, "nrelayed": &c.Relayed, "ndropped": &c.Dropped,
		counterBytes: &c.BytesA, counterLost: &c.LostA,
	}
	seen := map[string]bool{}
	for _, kv := range strings.Fields(main) {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || seen[name] {
			return bad()
		}
		seen[name] = true
		switch name {
		case "ttl":
			if c.TTL, err = strconv.Atoi(v); err != nil {
				return bad()
			}
		case counterRTT:
			if v == "-" {
				break
			}
			us, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return bad()
			}
			c.RTTA, c.HasRTT = time.Duration(us)*time.Microsecond, true
		case counterJitter:
			j, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(j) || math.IsInf(j, 0) || j < 0 {
				return bad()
			}
			c.JitterA = j
		default:
			dst := counts[name]
			if dst == nil {
				return bad()
			}
			if *dst, err = strconv.ParseUint(v, 10, 64); err != nil {
				return bad()
			}
		}
	}
	for _, name := range []string{"ttl", "npkts_ina", "npkts_ino", "nrelayed", "ndropped"} {
		if !seen[name] {
			return bad()
		}
	}
	c.HasBytes, c.HasLost, c.HasJitter = seen[counterBytes], seen[counterLost], seen[counterJitter]
	return c, subFailed, nil
}

// ParseCounters parses a plain Q reply: "ttl npkts_ina npkts_ino nrelayed
// ndropped", or "E<n>".
func ParseCounters(body string) (Counters, error) {
	if err := replyError(body); err != nil {
		return Counters{}, err
	}
	f := strings.Fields(body)
	if len(f) != 5 {
		return Counters{}, fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	var c Counters
	ttl, err := strconv.Atoi(f[0])
	if err != nil {
		return Counters{}, fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	c.TTL = ttl
	for i, dst := range []*uint64{&c.FromA, &c.FromB, &c.Relayed, &c.Dropped} {
		if *dst, err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return Counters{}, fmt.Errorf("%w: %q", ErrMalformedReply, body)
		}
	}
	return c, nil
}

// parseFlag parses a VF reply ("1" or "0").
func parseFlag(body string) (bool, error) {
	if err := replyError(body); err != nil {
		return false, err
	}
	switch body {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: %q", ErrMalformedReply, body)
}

// parseAck parses the reply of a command that answers "0" on success (D).
func parseAck(body string) error {
	if err := replyError(body); err != nil {
		return err
	}
	if body != "0" {
		return fmt.Errorf("%w: %q", ErrMalformedReply, body)
	}
	return nil
}
