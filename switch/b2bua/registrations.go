package b2bua

import (
	"errors"
	"time"
)

// RegistrationInfo is one binding as the web UI and API show it.
type RegistrationInfo struct {
	ID        string    `json:"id"` // the binding's alias: stable, and what DELETE names
	AoR       string    `json:"aor"`
	Contact   string    `json:"contact"`
	Transport string    `json:"transport"`
	Source    string    `json:"source"` // the flow: the client's address as seen
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
}

// ErrNoSuchRegistration is Unregister's answer for an unknown ID.
var ErrNoSuchRegistration = errors.New("b2bua: no such registration")

// Registrations lists the bindings held, by AoR then contact.
func (s *Switch) Registrations() []RegistrationInfo {
	all := s.regs.All()
	out := make([]RegistrationInfo, 0, len(all))
	for _, b := range all {
		out = append(out, RegistrationInfo{ID: b.Alias, AoR: b.AoR, Contact: b.Contact,
			Transport: b.Flow.Transport, Source: b.Flow.Source.String(), Expires: b.Expires, UserAgent: b.UserAgent})
	}
	return out
}

// Unregister removes a binding, as an expiry would: with the cache, its
// alias is removed upstream too. The client may register again.
func (s *Switch) Unregister(id string) error {
	b, ok := s.regs.ByAlias(id)
	if !ok {
		return ErrNoSuchRegistration
	}
	if _, ok := s.regs.Remove(b.AoR, b.Contact); !ok {
		return ErrNoSuchRegistration
	}
	go s.unregisterUpstream(b)
	return nil
}
