package b2bua

import (
	"context"
	"errors"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// errNoChallenge is a 401/407 without a digest challenge we can answer.
var errNoChallenge = errors.New("no digest challenge in the response")

// authenticate answers a gateway's 401/407 to our INVITE (RFC 3261 22.2):
// the same INVITE on the same dialog, with the next CSeq, a new branch and
// the digest credentials, as a new client transaction. sipgo has ACKed the
// challenge already. ok false means there are no credentials for this
// gateway and the challenge is an ordinary failure.
func (c *Call) authenticate(ctx context.Context, b *attemptLeg, res *sip.Response) (tx sip.ClientTransaction, ok bool, err error) {
	challengeHdr, authHdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		challengeHdr, authHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	c.mu.Lock()
	user, password, ok := c.gatewayCredentials()
	prev := b.invite
	c.mu.Unlock()
	if !ok || prev == nil {
		return nil, false, nil
	}
	h := res.GetHeader(challengeHdr)
	if h == nil {
		return nil, true, errNoChallenge
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, true, err
	}
	cred, err := digest.Digest(chal, digest.Options{
		Method: string(sip.INVITE), URI: prev.Recipient.Addr(),
		Username: user, Password: password, Count: 1,
	})
	if err != nil {
		return nil, true, err
	}
	inv := prev.Clone()
	inv.RemoveHeader("Authorization")
	inv.RemoveHeader("Proxy-Authorization")
	inv.ReplaceHeader(b.d.listener.via())
	c.mu.Lock()
	seq := b.d.localSeq.Add(1)
	inv.CSeq().SeqNo = seq
	inv.AppendHeader(sip.NewHeader(authHdr, cred.String()))
	b.invite, b.inviteSeq = inv, seq
	c.mu.Unlock()
	tx, err = c.sw.cli.TransactionRequest(ctx, inv, prebuilt)
	return tx, true, err
}
