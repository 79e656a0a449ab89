package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// AuthConfig configures authorisation.
type AuthConfig struct {
	// IPPassword is the User-Password of IP authorisation; default "cisco",
	// as Sippy B2BUA and Cisco gateways send.
	IPPassword string
	// NASIPAddress, when valid, is sent as NAS-IP-Address.
	NASIPAddress netip.Addr
	// Node is cluster.node, sent as NAS-Identifier and h323-gw-id; nothing
	// is sent when empty.
	Node string
	// ReturnCodes maps h323-return-code to SIP; default DefaultReturnCodes.
	ReturnCodes ReturnCodes
}

// AuthRequest describes the call to authorise. Digest nil means
// authorisation by source IP.
type AuthRequest struct {
	SourceIP      netip.Addr
	CallingNumber string
	CalledNumber  string
	CallID        string // the incoming Call-ID
	ConfID        ConfID
	Digest        *DigestCredentials

	// Purpose is AuthSetup for a new call, AuthReauthorize for a connected
	// prepaid call asking for more credit (reauth.go); the rest of the
	// fields below describe a re-authorisation.
	Purpose      AuthPurpose
	Account      string        // the User-Name the call was authorised as
	ReauthNumber int           // 1 for the call's first re-authorisation
	SessionTime  time.Duration // connected so far
}

// DigestCredentials are the parts of a SIP Authorization header the RADIUS
// server needs to check a digest (draft-sterman).
type DigestCredentials struct {
	Username   string
	Realm      string
	Nonce      string
	Method     string // the SIP method being authorised
	URI        string
	Response   string // 32 hex digits
	Algorithm  string
	QOP        string
	CNonce     string
	NonceCount string // 8 hex digits
	BodyDigest string // qop=auth-int only
}

// AuthResult is what an Access-Accept grants.
type AuthResult struct {
	// CreditTime is h323-credit-time; HasCreditTime false when the server
	// set no limit. Zero with HasCreditTime means no credit.
	CreditTime    time.Duration
	HasCreditTime bool
	ReturnCode    int
	// Interim is the Acct-Interim-Interval the server asks for this
	// call's accounting (RFC 2869 §5.16); 0 when it set none.
	Interim time.Duration
	Routes  []Route // in failover order
	// Server is the address of the server that answered.
	Server string
	CLI    string // caller number override ("" none)
	CNAM   string // caller name override ("" none)
}

// RejectError is an authorisation refused by the server: an Access-Reject,
// or an Access-Accept whose h323-return-code is not 0.
type RejectError struct {
	ReturnCode    int // -1 when the server gave none
	Status        SIPStatus
	ServerMessage string // Reply-Message, if any
	Server        string // the address of the server that refused
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("radius: authorisation refused: h323-return-code %d → %d %s", e.ReturnCode, e.Status.Code, e.Status.Reason)
}

// Authorizer sends Access-Requests and reads their answers.
type Authorizer struct {
	client *Client
	cfg    AuthConfig
}

// NewAuthorizer uses client (the auth server group).
func NewAuthorizer(client *Client, cfg AuthConfig) *Authorizer {
	if cfg.IPPassword == "" {
		cfg.IPPassword = "cisco"
	}
	if cfg.ReturnCodes == nil {
		cfg.ReturnCodes = DefaultReturnCodes()
	}
	return &Authorizer{client: client, cfg: cfg}
}

// Authorize asks the servers about one call. It returns the grant, a
// *RejectError when refused, or another error when no valid answer came.
func (a *Authorizer) Authorize(ctx context.Context, req AuthRequest) (*AuthResult, error) {
	p, err := a.AccessRequest(req)
	if err != nil {
		return nil, err
	}
	reply, server, err := a.client.ExchangeServer(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("authorise %s: %w", req.CallID, err)
	}
	res, err := ParseAuthReply(reply, a.cfg.ReturnCodes)
	var rej *RejectError
	switch {
	case err == nil:
		res.Server = server
	case errors.As(err, &rej):
		rej.Server = server
	}
	return res, err
}

// AccessRequest builds the Access-Request for req (User-Password in clear;
// the client hides it per server).
func (a *Authorizer) AccessRequest(req AuthRequest) (*radius.Packet, error) {
	p := &radius.Packet{Code: radius.CodeAccessRequest}
	var err error
	if req.Purpose == AuthReauthorize {
		err = a.reauthAttributes(p, req)
	} else if d := req.Digest; d != nil {
		err = errors.Join(
			rfc2865.UserName_SetString(p, d.Username),
			addDigest(p, d),
		)
	} else {
		err = rfc2865.UserName_SetString(p, req.SourceIP.String())
		p.Add(rfc2865.UserPassword_Type, radius.Attribute(a.cfg.IPPassword))
	}
	if a.cfg.NASIPAddress.Is4() {
		err = errors.Join(err, rfc2865.NASIPAddress_Set(p, a.cfg.NASIPAddress.AsSlice()))
	}
	err = errors.Join(err, addNode(p, a.cfg.Node),
		rfc2865.CallingStationID_SetString(p, req.CallingNumber),
		rfc2865.CalledStationID_SetString(p, req.CalledNumber),
		AddAVPair(p, "call-id", req.CallID),
		AddH323(p, H323RemoteAddress, req.SourceIP.String()),
		AddH323(p, H323ConfID, req.ConfID.String()),
		AddAVPair(p, "h323-session-protocol", "sipv2"),
	)
	if err != nil {
		return nil, fmt.Errorf("radius: Access-Request: %w", err)
	}
	return p, nil
}

// maxDigestField is the longest value a Digest-Attributes sub-attribute
// holds: a RADIUS attribute's 253 bytes less the sub-attribute's type and
// length.
const maxDigestField = 251

// addDigest adds Digest-Response and one Digest-Attributes per field, as
// draft-sterman and FreeRADIUS's digest module lay them out.
func addDigest(p *radius.Packet, d *DigestCredentials) error {
	if len(d.Response) != 32 {
		return fmt.Errorf("digest response of %d characters", len(d.Response))
	}
	p.Add(AttrDigestResponse, radius.Attribute(d.Response))
	for _, f := range []struct {
		t DigestSub
		v string
	}{
		{DigestRealm, d.Realm}, {DigestNonce, d.Nonce}, {DigestMethod, d.Method},
		{DigestURI, d.URI}, {DigestQOP, d.QOP}, {DigestAlgorithm, d.Algorithm},
		{DigestBodyDigest, d.BodyDigest}, {DigestCNonce, d.CNonce},
		{DigestNonceCount, d.NonceCount}, {DigestUserName, d.Username},
	} {
		if f.v == "" {
			continue
		}
		if len(f.v) > maxDigestField {
			return fmt.Errorf("digest sub-attribute %d too long", f.t)
		}
		b := make(radius.Attribute, 2+len(f.v))
		b[0], b[1] = byte(f.t), byte(2+len(f.v))
		copy(b[2:], f.v)
		p.Add(AttrDigestAttributes, b)
	}
	return nil
}

// ParseAuthReply turns a verified reply into a grant or a *RejectError.
// Malformed values (a credit time that is not a number, a broken route)
// make the whole reply an error: the call fails rather than guessing.
func ParseAuthReply(p *radius.Packet, codes ReturnCodes) (*AuthResult, error) {
	rc, err := returnCode(p)
	if err != nil {
		return nil, err
	}
	switch p.Code {
	case radius.CodeAccessAccept:
	case radius.CodeAccessReject, radius.CodeAccessChallenge:
		return nil, reject(p, rc, codes)
	default:
		return nil, fmt.Errorf("%w: %v to an Access-Request", ErrUnexpectedCode, p.Code)
	}
	if rc > 0 {
		return nil, reject(p, rc, codes)
	}
	res := &AuthResult{ReturnCode: max(rc, 0)}
	credits, err := VSAValues(p.Attributes, H323CreditTime)
	if err != nil {
		return nil, err
	}
	if len(credits) > 0 {
		v, err := H323Value(H323CreditTime, credits[0])
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 31)
		if err != nil {
			return nil, fmt.Errorf("%w: h323-credit-time %q", ErrBadVSA, v)
		}
		res.CreditTime, res.HasCreditTime = time.Duration(n)*time.Second, true
	}
	if _, ok := p.Lookup(rfc2869.AcctInterimInterval_Type); ok {
		v, err := rfc2869.AcctInterimInterval_Lookup(p)
		if err != nil {
			return nil, fmt.Errorf("%w: Acct-Interim-Interval: %w", ErrMalformed, err)
		}
		res.Interim = time.Duration(v) * time.Second
	}
	pairs, err := VSAValues(p.Attributes, CiscoAVPair)
	if err != nil {
		return nil, err
	}
	for _, pair := range pairs {
		name, value, ok := SplitAVPair(pair)
		if !ok || name != "h323-ivr-in" {
			continue
		}
		kind, arg, _ := strings.Cut(value, ":")
		switch kind {
		case "Routing":
			r, err := ParseRoute(arg)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadVSA, err)
			}
			res.Routes = append(res.Routes, r)
		case "CLI":
			res.CLI = arg
		case "CNAM":
			if res.CNAM, err = url.PathUnescape(arg); err != nil {
				return nil, fmt.Errorf("%w: CNAM %q: %w", ErrBadVSA, arg, err)
			}
		}
	}
	return res, nil
}

// returnCode reads h323-return-code; -1 when absent.
func returnCode(p *radius.Packet) (int, error) {
	vals, err := VSAValues(p.Attributes, H323ReturnCode)
	if err != nil || len(vals) == 0 {
		return -1, err
	}
	v, err := H323Value(H323ReturnCode, vals[0])
	if err != nil {
		return -1, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil {
		return -1, fmt.Errorf("%w: h323-return-code %q", ErrBadVSA, v)
	}
	return int(n), nil
}

func reject(p *radius.Packet, rc int, codes ReturnCodes) *RejectError {
	e := &RejectError{ReturnCode: rc, ServerMessage: rfc2865.ReplyMessage_GetString(p)}
	if rc > 0 {
		e.Status = codes.Lookup(rc)
	} else {
		e.Status = SIPStatus{403, "Forbidden"}
	}
	return e
}
