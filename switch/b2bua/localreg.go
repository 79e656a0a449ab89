package b2bua

import (
	"errors"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tollgate/tollgate/aaa"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/switch/registrar"
)

// This file is the local registrar (registration.mode: local), for
// deployments without an upstream one, as SEMS's registrar module: users
// and passwords in the configuration, REGISTER authenticated by digest
// with the switch's own nonces, bindings in the same table as the cache's,
// calls to a user routed to its contacts over their flows (registeredHops).

// registerLocally authenticates a REGISTER and applies it (RFC 3261 10.3).
func (s *Switch) registerLocally(r *register, tx sip.ServerTransaction, rc config.Registration) {
	if !s.authenticRegister(r, tx, rc) {
		return
	}
	for _, a := range r.contacts {
		if a.expires > 0 && a.expires < rc.MinExpires {
			s.reply(r.req, tx, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(rc.MinExpires)))
			return
		}
	}
	now := time.Now()
	if r.wildcard {
		s.regs.RemoveAoR(r.aor)
	}
	for _, a := range r.contacts {
		if a.expires == 0 {
			s.regs.Remove(r.aor, a.uri)
			continue
		}
		s.regs.Put(registrar.Binding{AoR: r.aor, Contact: a.uri, Alias: registrar.Alias(r.aor, a.uri),
			Flow: r.flow, CallID: r.callID, CSeq: r.cseq, UserAgent: userAgent(r.req),
			Expires: now.Add(time.Duration(min(a.expires, rc.MaxExpires)) * time.Second)})
	}
	s.replyBindings(r, tx, now)
}

// authenticRegister checks the REGISTER's digest against the user's
// password, answering it itself when it is not: 401 with a challenge when
// it has no (usable) credentials or a stale nonce, 403 when the password
// is wrong or the credentials are not the AoR's own.
func (s *Switch) authenticRegister(r *register, tx sip.ServerTransaction, rc config.Registration) bool {
	challenge := func(stale bool) {
		s.reply(r.req, tx, 401, "Unauthorized",
			sip.NewHeader("WWW-Authenticate", s.regNonces.Challenge(rc.Realm, stale)))
	}
	h := r.req.GetHeader("Authorization")
	if h == nil {
		challenge(false)
		return false
	}
	d, err := s.regNonces.CheckAuthorization(h.Value(), string(sip.REGISTER))
	switch {
	case errors.Is(err, aaa.ErrNonceStale):
		challenge(true)
		return false
	case err != nil:
		challenge(false)
		return false
	}
	if !s.subscriberMatches(rc, d) || d.Username != r.req.To().Address.User || d.Realm != rc.Realm {
		s.log.Info("REGISTER refused", "user", d.Username, "aor", r.aor, "source", r.flow.Source)
		s.reply(r.req, tx, 403, "Forbidden")
		return false
	}
	return true
}

// subscriberMatches checks credentials against the user's secret: its
// password in the configuration, else its HA1 among the database's
// subscribers (SetSubscribers). The file wins, so that an account can be
// fixed there whatever the database holds.
func (s *Switch) subscriberMatches(rc config.Registration, d *aaa.DigestCredentials) bool {
	if password, known := rc.Password(d.Username); known {
		return d.Matches(password)
	}
	if ha1, known := (*s.subscribers.Load())[d.Username]; known {
		return d.MatchesHA1(ha1)
	}
	return false
}

// isSubscriber tells whether user is an account of the local registrar,
// in the configuration or the database.
func (s *Switch) isSubscriber(rc config.Registration, user string) bool {
	if _, known := rc.Password(user); known {
		return true
	}
	_, known := (*s.subscribers.Load())[user]
	return known
}

// SetSubscribers replaces the local registrar's accounts from the
// database (subscriber.Store.Follow): their digest HA1 by user name. New
// REGISTERs and calls use them at once.
func (s *Switch) SetSubscribers(ha1s map[string]string) {
	s.subscribers.Store(&ha1s)
	s.log.Info("subscribers applied", "database_subscribers", len(ha1s))
}
