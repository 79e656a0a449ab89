package aaa

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"
	"layeh.com/radius/rfc5176"
)

// MessageAuthPolicy says whether a dynamic authorisation client must sign
// its requests with a Message-Authenticator.
type MessageAuthPolicy int

// Message-Authenticator policies. Required is the default: RFC 5176
// requests are otherwise protected by MD5 alone (BlastRADIUS, CVE-2024-3596).
const (
	MessageAuthRequired MessageAuthPolicy = iota
	MessageAuthOptional
)

// DynAuthKind is the kind of an RFC 5176 request.
type DynAuthKind int

// Request kinds.
const (
	DynAuthDisconnect DynAuthKind = iota
	DynAuthCoA
)

func (k DynAuthKind) String() string {
	if k == DynAuthCoA {
		return "CoA-Request"
	}
	return "Disconnect-Request"
}

// SessionSelector names the calls a Disconnect or CoA request is about.
// Every field set must match; an empty field matches any call.
type SessionSelector struct {
	UserName      string // User-Name: the answer leg's account
	AcctSessionID string // Acct-Session-Id of any leg of the call
	CallID        string // Cisco-AVPair call-id: the incoming Call-ID
	ConfID        string // h323-conf-id, in Cisco's upper-case form
}

// Empty reports whether the selector names nothing: such a request would
// match every call, and is refused.
func (s SessionSelector) Empty() bool { return s == SessionSelector{} }

// CallChange is what a CoA-Request changes on a connected call.
type CallChange struct {
	// CreditTime is the call's remaining credit from now (h323-credit-time);
	// HasCreditTime false leaves the credit timer as it is.
	CreditTime    time.Duration
	HasCreditTime bool
	// Interim is the new Interim-Update interval (Acct-Interim-Interval);
	// 0 leaves it as it is.
	Interim time.Duration
}

// DynAuthRequest is a verified Disconnect-Request or CoA-Request.
type DynAuthRequest struct {
	Kind     DynAuthKind
	Client   string // the sender's address, for logs and the audit log
	Selector SessionSelector
	Change   CallChange // CoA only
}

// Errors of a dynamic authorisation request that are dropped silently, as
// RFC 5176 §3.5 asks: the sender cannot be trusted with an answer.
var (
	ErrDynAuthMalformed = errors.New("radius: malformed dynamic authorisation request")
	ErrDynAuthForged    = errors.New("radius: dynamic authorisation request not authentic")
)

// DecodeDynAuthRequest checks one datagram as a Disconnect-Request or
// CoA-Request from a client holding secret: length, code, the request
// authenticator (an MD5 over the packet as for Accounting-Request) and the
// Message-Authenticator, which policy may require. It never panics.
func DecodeDynAuthRequest(b, secret []byte, policy MessageAuthPolicy) (*radius.Packet, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("%w: %d bytes", ErrDynAuthMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 20 || n > radius.MaxPacketLength || n > len(b) {
		return nil, fmt.Errorf("%w: length field %d, datagram %d bytes", ErrDynAuthMalformed, n, len(b))
	}
	b = b[:n]
	switch radius.Code(b[0]) {
	case radius.CodeDisconnectRequest, radius.CodeCoARequest:
	default:
		return nil, fmt.Errorf("%w: code %v", ErrDynAuthMalformed, radius.Code(b[0]))
	}
	p, err := radius.Parse(b, secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDynAuthMalformed, err)
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(make([]byte, 16))
	h.Write(b[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), b[4:20]) {
		return nil, fmt.Errorf("%w: request authenticator (wrong secret?)", ErrDynAuthForged)
	}
	if err := checkRequestMA(b, secret, policy); err != nil {
		return nil, err
	}
	return p, nil
}

// checkRequestMA verifies a Disconnect/CoA request's Message-Authenticator:
// HMAC-MD5 over the packet with the authenticator field and the attribute
// zeroed, as FreeRADIUS computes it for these codes. b has been parsed.
func checkRequestMA(b, secret []byte, policy MessageAuthPolicy) error {
	off := -1
	for i := 20; i+2 <= len(b); i += int(b[i+1]) {
		if b[i] == byte(rfc2869.MessageAuthenticator_Type) {
			if int(b[i+1]) != 2+maLen {
				return fmt.Errorf("%w: Message-Authenticator of length %d", ErrDynAuthForged, b[i+1])
			}
			off = i + 2
			break
		}
	}
	if off < 0 {
		if policy == MessageAuthRequired {
			return fmt.Errorf("%w: no Message-Authenticator", ErrDynAuthForged)
		}
		return nil
	}
	c := append([]byte(nil), b...)
	clear(c[4:20])
	clear(c[off : off+maLen])
	mac := hmac.New(md5.New, secret)
	mac.Write(c)
	if !hmac.Equal(mac.Sum(nil), b[off:off+maLen]) {
		return fmt.Errorf("%w: Message-Authenticator", ErrDynAuthForged)
	}
	return nil
}

// ReadDynAuthRequest reads what an authentic request asks. A request that
// cannot be acted on gets the Error-Cause its NAK carries: Missing-Attribute
// when it names no call (or a CoA changes nothing), Invalid-Attribute-Value
// for a value that does not parse, Unsupported-Attribute for a CoA attribute
// Tollgate cannot apply. Other attributes (NAS identification,
// Event-Timestamp, the numbers) are ignored.
func ReadDynAuthRequest(p *radius.Packet) (DynAuthRequest, rfc3576.ErrorCause) {
	var r DynAuthRequest
	if p.Code == radius.CodeCoARequest {
		r.Kind = DynAuthCoA
	}
	sel := &r.Selector
	sel.UserName = rfc2865.UserName_GetString(p)
	sel.AcctSessionID = rfc2866.AcctSessionID_GetString(p)
	confs, err := VSAValues(p.Attributes, H323ConfID)
	if err != nil {
		return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
	}
	if len(confs) > 0 {
		v, err := H323Value(H323ConfID, confs[0])
		if err != nil {
			return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
		}
		conf, err := ParseConfID(v)
		if err != nil {
			return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
		}
		sel.ConfID = conf.String()
	}
	pairs, err := VSAValues(p.Attributes, CiscoAVPair)
	if err != nil {
		return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
	}
	for _, pair := range pairs {
		if name, value, ok := SplitAVPair(pair); ok && name == "call-id" {
			sel.CallID = value
		}
	}
	if sel.Empty() {
		return r, rfc3576.ErrorCause_Value_MissingAttribute
	}
	if r.Kind == DynAuthDisconnect {
		return r, 0
	}
	credits, err := VSAValues(p.Attributes, H323CreditTime)
	if err != nil {
		return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
	}
	_, hasInterim := p.Lookup(rfc2869.AcctInterimInterval_Type)
	if len(credits) > 0 {
		v, err := H323Value(H323CreditTime, credits[0])
		if err != nil {
			return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 31)
		if err != nil {
			return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
		}
		r.Change.CreditTime, r.Change.HasCreditTime = time.Duration(n)*time.Second, true
	}
	if hasInterim {
		v, err := rfc2869.AcctInterimInterval_Lookup(p)
		if err != nil || v == 0 {
			return r, rfc5176.ErrorCause_Value_InvalidAttributeValue
		}
		r.Change.Interim = time.Duration(v) * time.Second
	}
	if !r.Change.HasCreditTime && r.Change.Interim == 0 {
		return r, rfc3576.ErrorCause_Value_MissingAttribute
	}
	return r, 0
}

// encodeDynAuthReply builds the ACK (cause 0) or NAK of request req (the raw
// datagram), signed with a Message-Authenticator and the response
// authenticator over the request's.
func encodeDynAuthReply(req []byte, secret []byte, cause rfc3576.ErrorCause) ([]byte, error) {
	code := radius.CodeDisconnectACK
	if radius.Code(req[0]) == radius.CodeCoARequest {
		code = radius.CodeCoAACK
	}
	if cause != 0 {
		code++ // the NAK follows the ACK in both pairs (41/42, 44/45)
	}
	q := &radius.Packet{Code: code, Identifier: req[1], Secret: secret}
	copy(q.Authenticator[:], req[4:20])
	q.Add(rfc2869.MessageAuthenticator_Type, make(radius.Attribute, maLen))
	if cause != 0 {
		if err := rfc3576.ErrorCause_Add(q, cause); err != nil {
			return nil, err
		}
	}
	b, err := q.MarshalBinary()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	mac.Sum(b[22:22])
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	h.Sum(b[4:4])
	return b, nil
}
