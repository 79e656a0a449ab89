package aaa

import (
	"errors"
	"strconv"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc3576"
)

// AuthPurpose says why an Access-Request is sent.
type AuthPurpose int

// Purposes of an Access-Request.
const (
	AuthSetup       AuthPurpose = iota // a new call
	AuthReauthorize                    // a connected prepaid call asking for more credit
)

// reauthAttributes identifies a re-authorisation, the way Cisco prepaid
// gateways and Sippy's incremental allocation let a billing server tell one
// from a new call: Service-Type Authorize-Only (the call is already
// authenticated: a digest cannot be replayed), the User-Name the call was
// authorised as (with the IP password when that is what authorised it,
// so a users file that checks it still matches), the incoming Call-ID as
// Acct-Session-Id (the answer leg's, as accounting sends it by default),
// the seconds connected so far as Acct-Session-Time, and Cisco-AVPair
// "h323-ivr-out=reauth:<n>" numbering the call's re-authorisations. The
// call's usual attributes follow (AccessRequest).
func (a *Authorizer) reauthAttributes(p *radius.Packet, req AuthRequest) error {
	err := errors.Join(
		rfc2865.UserName_SetString(p, req.Account),
		rfc2865.ServiceType_Set(p, rfc3576.ServiceType_Value_AuthorizeOnly),
		rfc2866.AcctSessionID_SetString(p, req.CallID),
		rfc2866.AcctSessionTime_Set(p, rfc2866.AcctSessionTime(req.SessionTime.Seconds())),
		AddAVPair(p, "h323-ivr-out", "reauth:"+strconv.Itoa(req.ReauthNumber)),
	)
	if req.Account == req.SourceIP.String() {
		p.Add(rfc2865.UserPassword_Type, radius.Attribute(a.cfg.IPPassword))
	}
	return err
}
