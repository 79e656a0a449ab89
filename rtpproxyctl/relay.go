// Package rtpproxyctl anchors a call's media on a relay for the B2BUA: the
// MediaRelay interface one call uses, and the client of Sippy rtpproxy's
// control protocol (UDP with cookies and retransmission, unix and stream
// sockets, weighted relays with failover, timeout notifications). It
// speaks in streams and endpoints; the switch reads and rewrites the SDP.
package rtpproxyctl

import (
	"context"
	"net/netip"

	"github.com/tollgate/tollgate/cdr"
)

// Side is one party of a call as the B2BUA sees it.
type Side uint8

// The two sides of a call.
const (
	Caller Side = iota // the A leg, who sent the initial INVITE
	Callee             // the B leg
)

// Other is the side across the call.
func (s Side) Other() Side { return 1 - s }

func (s Side) String() string {
	if s == Caller {
		return "caller"
	}
	return "callee"
}

// Dialog names a call to the relay. rtpproxy keys its sessions by call-id
// and tags; any values stable for the life of the call will do.
type Dialog struct {
	CallID    string // the caller leg's Call-ID
	CallerTag string // the caller's From tag
	CalleeTag string // stable for the call's other side: the B2BUA's own To tag on the caller leg
}

// Stream is one m= line of an SDP, as its sender described it.
type Stream struct {
	Index        int        // position of the m= line, 0-based; the relay's media number is Index+1
	Addr         netip.Addr // where the sender receives media; 0.0.0.0 = hold
	Port         int        // its RTP port; 0 = disabled stream, not sent to the relay
	PayloadTypes []int      // offered payload types (informational for the relay)
	// ClockRate is the RTP clock of the stream's first codec (0 when the
	// SDP does not tell): what turns the relay's jitter, counted in RTP
	// timestamp units, into time.
	ClockRate int
	// Formats are the sender's payload formats, in its SDP's order, for a
	// relay that transcodes (Features.Transcode); nil: no transcoding.
	Formats []Format
	// Options are what a relay that has them (Features.RTPOpts) does with
	// the sender's RTP; the zero value leaves them as they were.
	Options RTPOptions
	// Toward is an address of the party the SDP goes to (its signalling
	// address): when its family differs from Addr's, the relay is asked
	// for an endpoint of Toward's family, bridging an IPv4 party and an
	// IPv6 one. Invalid: the endpoint has Addr's family.
	Toward netip.Addr
	// Local is the relay address the endpoint for this stream is to be
	// bound to (the media address of the interface of the party the SDP
	// goes to); invalid: the relay's own.
	Local netip.Addr
}

// Endpoint is where the relay receives a stream's media for the other side:
// the address and port to write into the forwarded SDP. The zero Endpoint
// means "leave the stream as it is" (disabled streams).
type Endpoint struct {
	Addr netip.Addr
	Port int
}

// Stats are a call's final RTP counters, per direction, summed over the
// call's streams (the jitter is the first stream's that reports one, i.e.
// the audio of an audio and video call). What a relay cannot tell is
// unknown, not zero: loss and jitter need rtpproxy 20230205 and 20230424
// (rtpa_nlost, rtpa_javg), and bytes Tollgate's own relay, since rtpproxy
// counts none and a figure derived from packets and ptime would be a
// guess; packets are unknown when the relay could never be asked.
type Stats struct {
	CallerToCallee cdr.RTPStats // media received from the caller
	CalleeToCaller cdr.RTPStats
	Relayed        uint64 // packets relayed, both directions
	Dropped        uint64
}

// MediaRelay anchors the media of one call. Offer and Answer take the
// streams of an SDP travelling from side `from` to the other side and
// return, in the same order, the endpoints to put into that SDP before it
// is forwarded. A re-INVITE or UPDATE (hold, unhold, new address) is just
// another Offer/Answer pair, from either side; late offers (SDP in the 200)
// are an Offer from the callee answered by the caller.
type MediaRelay interface {
	Offer(ctx context.Context, from Side, streams []Stream) ([]Endpoint, error)
	Answer(ctx context.Context, from Side, streams []Stream) ([]Endpoint, error)
	// Delete ends the media session and returns the final counters. It is
	// best-effort: on error the call still ends, with what was collected.
	Delete(ctx context.Context) (Stats, error)
	// Name identifies the relay the call uses, for the CDR ("" before the
	// first Offer).
	Name() string
}
