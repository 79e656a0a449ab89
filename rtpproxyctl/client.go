package rtpproxyctl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Capability dates (rtpproxy's VF list) the client uses.
const (
	capBasic        = "20040107"
	capMediaNumbers = "20050322"
	capCodecs       = "20081102"
	capQuery        = "20080403"
	capNotify       = "20081224"
	capNamedQuery   = "20150420" // counter names after the to-tag, rtpa_* counters
	capLoss         = "20230205" // rtpa_nlost
	capQueryDelete  = "20230314"
	capJitter       = "20230424" // longest_ipi, rtpa_jlast/jmax/javg
	// capBytes is Tollgate's own relay's byte counters (tg_nbytes_ina).
	// It is not a date: rtpproxy, whose VF is a plain string compare,
	// answers 0, so the counters are never asked of a relay that would
	// reply E62 to them.
	capBytes = "tollgate_nbytes"
	// capTranscode is Tollgate's relay's transcoder: the T sub-command
	// after U/L naming a party's payload formats (rtpproxyctl/relay's
	// README). Asked the same way, for the same reason, as capBytes.
	capTranscode = "tollgate_transcode"
	// capRTPOpts is Tollgate's relay's O sub-command: SEMS's RTP options
	// per party (rtpproxyctl/relay's README).
	capRTPOpts = "tollgate_rtpopts"
	// capDTMF is Tollgate's relay's DTMF interworking: the O token
	// dtmf_notify and the E sub-command of Q (rtpproxyctl/relay's README).
	capDTMF = "tollgate_dtmf"
	// capRTT is Tollgate's relay's RTCP round trip per party (tg_rtt_ina).
	capRTT = "tollgate_rtt"
)

// Features are what VF probing found a relay supports.
type Features struct {
	Codecs      bool // c<pt list> modifier (20081102)
	Query       bool // Q (20080403)
	Notify      bool // timeout notifications, i.e. rtpproxy runs with -n (20081224)
	QueryDelete bool // Q ... && D in one round trip (20230314)
	NamedQuery  bool // Q with counter names (20150420)
	Loss        bool // rtpa_nlost (20230205)
	Jitter      bool // rtpa_jlast/jmax/javg (20230424)
	Bytes       bool // tg_nbytes_ina: a Tollgate relay (VF tollgate_nbytes)
	Transcode   bool // the T sub-command: a Tollgate relay (VF tollgate_transcode)
	RTPOpts     bool // the O sub-command: a Tollgate relay (VF tollgate_rtpopts)
	DTMF        bool // dtmf_notify and Q ... && E: a Tollgate relay (VF tollgate_dtmf)
	RTT         bool // tg_rtt_ina, the RTCP round trip: a Tollgate relay (VF tollgate_rtt)
}

// flows reports whether a named Q brings more than the plain one: the
// per-direction loss, jitter or bytes the CDR records.
func (f Features) flows() bool { return f.NamedQuery && (f.Loss || f.Jitter || f.Bytes || f.RTT) }

// ErrUnsupported is returned by Probe for a relay that does not speak the
// protocol version Tollgate needs (V 20040107 and VF 20050322, as Kamailio).
var ErrUnsupported = errors.New("rtpproxy: unsupported protocol version")

// Client speaks the rtpproxy control protocol to one relay. It is safe for
// concurrent use.
type Client struct {
	address string
	t       transport

	mu       sync.Mutex
	features Features
}

// Options tune a Client's retransmission, as Kamailio's rtpproxy_tout and
// rtpproxy_retr do.
type Options struct {
	Timeout time.Duration // wait for a reply before resending; 0 = 1 s
	Retries int           // resends after the first try; 0 = 5, negative = none
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	switch {
	case o.Retries == 0:
		o.Retries = 5
	case o.Retries < 0:
		o.Retries = 0
	}
	return o
}

// NewClient opens the transport to the relay at address (see Config). It
// sends nothing: call Probe before relying on Features.
func NewClient(address string, opts Options) (*Client, error) {
	opts = opts.withDefaults()
	t, err := newTransport(address, opts.Timeout, opts.Retries)
	if err != nil {
		return nil, err
	}
	return &Client{address: address, t: t}, nil
}

// Address returns the relay's control address as configured.
func (c *Client) Address() string { return c.address }

// Close releases the transport; commands in flight fail.
func (c *Client) Close() error { return c.t.close() }

// Command sends one raw command (without cookie) and returns the reply
// body; an "E<n>" reply is returned as a *ProtocolError.
func (c *Client) Command(ctx context.Context, cmd string) (string, error) {
	body, err := c.t.exchange(ctx, cmd)
	if err != nil {
		return "", err
	}
	return body, replyError(body)
}

// Probe checks the protocol version (V) and probes the features Tollgate
// uses (VF), as Kamailio does at start.
func (c *Client) Probe(ctx context.Context) error {
	v, err := c.Command(ctx, "V")
	if err != nil {
		return fmt.Errorf("rtpproxy %s: V: %w", c.address, err)
	}
	if v != capBasic {
		return fmt.Errorf("rtpproxy %s: V answered %q: %w", c.address, v, ErrUnsupported)
	}
	var f Features
	for _, p := range []struct {
		date string
		dst  *bool
	}{{capMediaNumbers, nil}, {capCodecs, &f.Codecs}, {capQuery, &f.Query}, {capNotify, &f.Notify},
		{capQueryDelete, &f.QueryDelete}, {capNamedQuery, &f.NamedQuery}, {capLoss, &f.Loss}, {capJitter, &f.Jitter},
		{capBytes, &f.Bytes}, {capTranscode, &f.Transcode}, {capRTPOpts, &f.RTPOpts}, {capDTMF, &f.DTMF}, {capRTT, &f.RTT}} {
		ok, err := c.supports(ctx, p.date)
		if err != nil {
			return fmt.Errorf("rtpproxy %s: VF %s: %w", c.address, p.date, err)
		}
		if p.dst == nil && !ok {
			return fmt.Errorf("rtpproxy %s: VF %s answered 0: %w", c.address, p.date, ErrUnsupported)
		}
		if p.dst != nil {
			*p.dst = ok
		}
	}
	c.mu.Lock()
	c.features = f
	c.mu.Unlock()
	return nil
}

func (c *Client) supports(ctx context.Context, date string) (bool, error) {
	body, err := c.t.exchange(ctx, "VF "+date)
	if err != nil {
		return false, err
	}
	return parseFlag(body)
}

// Features returns what the last successful Probe found.
func (c *Client) Features() Features {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.features
}

// Request is one U or L command: the media address and port of the SDP's
// sender, and the tags (with their ";N" media number) that name the session.
type Request struct {
	CallID string
	Addr   netip.Addr // 0.0.0.0 (or ::) = hold; IPv6 is sent with the 6 modifier
	Port   int
	// Toward is an address of the party the SDP goes to. When its family
	// differs from Addr's it is sent as the r modifier (r1.2.3.4,
	// r[2001:db8::1]), so that the relay answers with an endpoint that
	// party can reach: the relay bridges the two families. Invalid: the
	// relay answers in Addr's family, as rtpproxy does by default.
	Toward netip.Addr
	// Local, when valid, is sent as the l modifier instead: the relay
	// address the reply's port is bound to, one of the relay's interfaces
	// (a call bridging two networks gives each side an address of its own).
	Local        netip.Addr
	FromTag      string
	ToTag        string // "" when not known yet (U only)
	PayloadTypes []int  // sent as the c modifier when the relay supports it
	NotifySocket string // U only: the relay's -n target; "" = none
	NotifyTag    string // U only: written back on the notify socket at timeout
	// Formats, when the relay transcodes, are sent as "&& T": the payload
	// formats of the SDP's sender, so that the relay converts media
	// between parties that chose different codecs.
	Formats []Format
	// Options, when the relay has them, are sent as "&& O": what the relay
	// does with the RTP of the SDP's sender. The zero value sends nothing,
	// so a re-INVITE keeps the options set before.
	Options RTPOptions
}

// RTPOptions are the SEMS SBC's RTP relay options for one party's media
// (rtprelay_dtmf_filtering...), as Tollgate's relay takes them.
type RTPOptions struct {
	DTMFFilter, DTMFDetect bool
	// DTMFNotify has the relay tell each telephone-event the party ends
	// (Config.OnDTMF), for a relay with Features.DTMF: the RFC 4733 side
	// of DTMF interworking with SIP INFO.
	DTMFNotify                bool
	Symmetric                 bool // rtprelay_force_symmetric_rtp
	RewriteSSRC, RewriteSeqno bool // rtprelay_transparent_ssrc/seqno false
	// EventPT is the party's telephone-event payload type, which
	// filtering and detection need; it is a dynamic one, so 0 is none.
	EventPT                    int
	MaxPacketRate, MaxByteRate int // per second; 0: no limit
}

// sub is the " && O ..." sub-command for o; "" for the zero options.
func (o RTPOptions) sub() string {
	if o == (RTPOptions{}) {
		return ""
	}
	var b strings.Builder
	b.WriteString(" && O")
	for _, f := range []struct {
		on   bool
		name string
	}{{o.DTMFFilter, "dtmf_filter"}, {o.DTMFDetect, "dtmf_detect"}, {o.DTMFNotify, "dtmf_notify"}, {o.Symmetric, "symmetric"},
		{o.RewriteSSRC, "rewrite_ssrc"}, {o.RewriteSeqno, "rewrite_seqno"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if (o.DTMFFilter || o.DTMFDetect || o.DTMFNotify) && o.EventPT > 0 && o.EventPT <= 127 {
		fmt.Fprintf(&b, " te=%d", o.EventPT)
	}
	if o.MaxPacketRate > 0 {
		fmt.Fprintf(&b, " max_pkt_rate=%d", o.MaxPacketRate)
	}
	if o.MaxByteRate > 0 {
		fmt.Fprintf(&b, " max_byte_rate=%d", o.MaxByteRate)
	}
	return b.String()
}

// Format is one payload format of an SDP's m= line: its encoding name as
// in a=rtpmap (PCMU, PCMA, G722, telephone-event, CN, or any other, which
// the relay relays unconverted) and its payload type.
type Format struct {
	Encoding string
	PT       int
}

// Update sends U (create or update, the offer) and returns the relay's
// address and port for the SDP forwarded to the other side.
func (c *Client) Update(ctx context.Context, r Request) (Endpoint, error) {
	return c.endpointCommand(ctx, 'U', r)
}

// Lookup sends L (the answer). ErrNotFound means the relay has no such
// session (it replied "0").
func (c *Client) Lookup(ctx context.Context, r Request) (Endpoint, error) {
	r.NotifySocket, r.NotifyTag = "", ""
	return c.endpointCommand(ctx, 'L', r)
}

func (c *Client) endpointCommand(ctx context.Context, op byte, r Request) (Endpoint, error) {
	var b strings.Builder
	b.WriteByte(op)
	addr := r.Addr.Unmap()
	if addr.Is6() {
		b.WriteByte('6')
	}
	if len(r.PayloadTypes) > 0 && c.Features().Codecs {
		b.WriteByte('c')
		for i, pt := range r.PayloadTypes {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(pt))
		}
	}
	// l or r last: what follows an address in the same token would be
	// read as part of it. l names the very address, and so the family.
	if l := r.Local.Unmap(); l.IsValid() {
		b.WriteByte('l')
		if l.Is6() {
			b.WriteString("[" + l.WithZone("").String() + "]")
		} else {
			b.WriteString(l.String())
		}
	} else if to := r.Toward.Unmap(); to.IsValid() && to.Is4() != addr.Is4() {
		b.WriteByte('r')
		if to.Is6() {
			b.WriteString("[" + to.WithZone("").String() + "]")
		} else {
			b.WriteString(to.String())
		}
	}
	fmt.Fprintf(&b, " %s %s %d %s", r.CallID, addr, r.Port, r.FromTag)
	if r.ToTag != "" {
		b.WriteString(" " + r.ToTag)
	}
	if r.NotifySocket != "" {
		b.WriteString(" " + r.NotifySocket + " " + url.PathEscape(r.NotifyTag))
	}
	if len(r.Formats) > 0 && c.Features().Transcode {
		b.WriteString(transcodeSub(r.Formats))
	}
	if f := c.Features(); f.RTPOpts {
		o := r.Options
		if !f.DTMF {
			o.DTMFNotify = false
		}
		b.WriteString(o.sub())
	}
	body, err := c.t.exchange(ctx, b.String())
	if err != nil {
		return Endpoint{}, err
	}
	return ParseEndpoint(body)
}

// Query sends Q for one media session and, when del is set and the relay
// supports it, deletes it in the same round trip (Q ... && D). It reports
// whether the delete was done.
func (c *Client) Query(ctx context.Context, callID, fromTag, toTag string, del bool) (Counters, bool, error) {
	cmd := "Q " + callID + " " + fromTag
	if toTag != "" {
		cmd += " " + toTag
	}
	fused := del && c.Features().QueryDelete
	if fused {
		cmd += " && D"
	}
	body, err := c.t.exchange(ctx, cmd)
	if err != nil {
		return Counters{}, false, err
	}
	counters, err := ParseCounters(body)
	return counters, fused && err == nil, err
}

// QueryFlow sends a named-counter Q (Qv, verbose, so that the reply names
// each value) for one media session: the plain counters plus, as far as the
// relay's features go, the loss (rtpa_nlost), the mean jitter (rtpa_javg)
// and the bytes (tg_nbytes_ina, Tollgate's relay only) of the party whose
// tag is fromTag. Those are per stream in rtpproxy: the other party's are
// another QueryFlow with the tags swapped. toTag is required, since counter
// names are only parsed after it. With del it deletes the session in the
// same round trip (Q ... && D) when the relay supports it, and reports
// whether the delete was done.
func (c *Client) QueryFlow(ctx context.Context, callID, fromTag, toTag string, del bool) (Counters, bool, error) {
	if toTag == "" {
		return Counters{}, false, errors.New("rtpproxy: a named Q needs a to-tag")
	}
	f := c.Features()
	var b strings.Builder
	b.WriteString("Qv " + callID + " " + fromTag + " " + toTag + " ttl npkts_ina npkts_ino nrelayed ndropped")
	if f.Loss {
		b.WriteString(" " + counterLost)
	}
	if f.Jitter {
		b.WriteString(" " + counterJitter)
	}
	if f.Bytes {
		b.WriteString(" " + counterBytes)
	}
	if f.RTT {
		b.WriteString(" " + counterRTT)
	}
	fused := del && f.QueryDelete
	if fused {
		b.WriteString(" && D")
	}
	body, err := c.t.exchange(ctx, b.String())
	if err != nil {
		return Counters{}, false, err
	}
	counters, subFailed, err := ParseNamedCounters(body)
	return counters, fused && !subFailed && err == nil, err
}

// Delete sends D. Tags without ";N" delete every media session of the
// dialog. ErrNotFound means there was nothing left to delete.
func (c *Client) Delete(ctx context.Context, callID, fromTag, toTag string) error {
	cmd := "D " + callID + " " + fromTag
	if toTag != "" {
		cmd += " " + toTag
	}
	body, err := c.t.exchange(ctx, cmd)
	if err != nil {
		return err
	}
	return parseAck(body)
}

// transcodeSub is the " && T enc/pt ..." sub-command for formats. A format
// that cannot be written as one token (an encoding name from an SDP with
// odd characters, a payload type out of range) is left out rather than
// have the relay refuse the whole U or L: the relay passes what it was not
// told about unconverted.
func transcodeSub(formats []Format) string {
	var b strings.Builder
	b.WriteString(" && T")
	for _, f := range formats {
		if f.PT < 0 || f.PT > 127 || f.Encoding == "" || strings.IndexFunc(f.Encoding, func(r rune) bool {
			return !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
		}) >= 0 {
			continue
		}
		fmt.Fprintf(&b, " %s/%d", f.Encoding, f.PT)
	}
	return b.String()
}

// portIs6 reports whether the relay was asked for an IPv6 port: the family
// of the l address when there is one, else of Toward when it is sent (r),
// else of Addr, as endpointCommand words it.
func (r Request) portIs6() bool {
	addr := r.Addr.Unmap()
	switch l, to := r.Local.Unmap(), r.Toward.Unmap(); {
	case l.IsValid():
		return l.Is6()
	case to.IsValid() && to.Is4() != addr.Is4():
		return to.Is6()
	}
	return addr.Is6()
}
