// Package registrar holds the registrations Tollgate keeps: the
// registration cache in front of an upstream registrar (SEMS's
// enable_reg_caching). It is a table of bindings and nothing else: the
// SIP exchanges that fill it live in switch/b2bua, which owns the sockets.
//
// The cache is rebuilt, not persisted: after a restart it is empty, and
// every client registers again within max_ua_expires, the short lifetime
// it was given. Persisting it would buy nothing a NATed client can use,
// since its flow (a UDP pinhole, a TCP connection) does not survive a
// restart either. Aliases are derived from the AoR and the contact
// (Alias), so a client registering again after a restart gets the alias
// it had, and replaces its upstream binding instead of adding one.
package registrar

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Flow is the way a client's REGISTER came in; requests toward the client
// go back the same way, which is what reaches a client behind NAT (its
// Contact names an address nobody outside can reach) or on TCP (the
// connection it opened, RFC 5626's flow).
type Flow struct {
	Transport string         // udp or tcp
	Source    netip.AddrPort // the client's address as seen by Tollgate
	Local     string         // the listener it came to, transport:host:port
}

// Binding is one contact of one AoR.
type Binding struct {
	AoR       string // user@host of the REGISTER's To
	Contact   string // the client's Contact URI, as it sent it
	Alias     string // the user part of the Contact registered upstream
	Flow      Flow
	CallID    string
	CSeq      uint32
	UserAgent string
	// Expires is when the client's binding ends: at most max_ua_expires
	// after its last REGISTER.
	Expires time.Time
	// Upstream is when the registrar's binding of the alias ends: the
	// cache answers refreshes itself while it is far enough away.
	Upstream time.Time
	// Keepalive is when the next NAT keepalive is due (Keepalives).
	Keepalive time.Time
}

// BehindNAT tells whether the client's Contact names another address
// than the one its REGISTER came from: a NAT between, whose binding only
// traffic keeps open.
func (b Binding) BehindNAT(contactHostPort netip.AddrPort) bool {
	return contactHostPort != b.Flow.Source
}

// ErrOutOfOrder refuses a REGISTER whose CSeq is not above the last one
// of the same Call-ID (RFC 3261 10.3 step 7).
var ErrOutOfOrder = errors.New("registrar: CSeq out of order")

// Cache is the table of bindings, by AoR and by alias. One lock: every
// operation is a few map accesses.
type Cache struct {
	mu      sync.Mutex
	byAlias map[string]*Binding
	byAoR   map[string][]*Binding
	// bySource counts the bindings per client address, for
	// registration.max_per_source.
	bySource map[netip.Addr]int
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{byAlias: map[string]*Binding{}, byAoR: map[string][]*Binding{}, bySource: map[netip.Addr]int{}}
}

// AliasPrefix begins every alias, so a Request-URI user is known for one
// (or not) before the cache is asked.
const AliasPrefix = "tg-"

// Alias is the user part Tollgate registers upstream for a contact of an
// AoR. It is derived, not random, so that a rebuilt cache hands a client
// the alias the registrar already knows.
func Alias(aor, contact string) string {
	h := sha256.Sum256([]byte(aor + "\x00" + contact))
	return AliasPrefix + hex.EncodeToString(h[:10])
}

// CheckOrder returns ErrOutOfOrder when a binding of aor holds callID with
// a CSeq not below cseq.
func (c *Cache) CheckOrder(aor, callID string, cseq uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.byAoR[aor] {
		if b.CallID == callID && b.CSeq >= cseq {
			return ErrOutOfOrder
		}
	}
	return nil
}

// Get returns the binding of a contact of aor.
func (c *Cache) Get(aor, contact string) (Binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.find(aor, contact); b != nil {
		return *b, true
	}
	return Binding{}, false
}

// ByAlias returns the binding an alias stands for: where a request from
// the registrar's side to that alias must go.
func (c *Cache) ByAlias(alias string) (Binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.byAlias[alias]; b != nil {
		return *b, true
	}
	return Binding{}, false
}

// Put adds a binding or replaces the one of the same AoR and contact.
func (c *Cache) Put(nb Binding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.find(nb.AoR, nb.Contact); b != nil {
		c.count(b.Flow.Source, -1)
		*b = nb
		c.count(b.Flow.Source, 1)
		return
	}
	b := &nb
	c.count(b.Flow.Source, 1)
	c.byAoR[b.AoR] = append(c.byAoR[b.AoR], b)
	c.byAlias[b.Alias] = b
}

// Remove drops the binding of a contact of aor.
func (c *Cache) Remove(aor, contact string) (Binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.find(aor, contact)
	if b == nil {
		return Binding{}, false
	}
	c.drop(b)
	return *b, true
}

// RemoveAoR drops every binding of aor (Contact: *).
func (c *Cache) RemoveAoR(aor string) []Binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Binding
	for _, b := range c.byAoR[aor] {
		out = append(out, *b)
		delete(c.byAlias, b.Alias)
		c.count(b.Flow.Source, -1)
	}
	delete(c.byAoR, aor)
	return out
}

// Bindings returns the bindings of aor, as a 200 to its REGISTER lists
// them.
func (c *Cache) Bindings(aor string) []Binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Binding, 0, len(c.byAoR[aor]))
	for _, b := range c.byAoR[aor] {
		out = append(out, *b)
	}
	return out
}

// All returns every binding, by AoR then contact.
func (c *Cache) All() []Binding {
	c.mu.Lock()
	out := make([]Binding, 0, len(c.byAlias))
	for _, b := range c.byAlias {
		out = append(out, *b)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].AoR != out[j].AoR {
			return out[i].AoR < out[j].AoR
		}
		return out[i].Contact < out[j].Contact
	})
	return out
}

// Len is how many bindings the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byAlias)
}

// Sweep drops and returns the bindings whose client lifetime ended by now.
// One sweeper calls it for the whole cache, at an interval: a timer per
// binding would cost a goroutine-sized timer each at 100,000 bindings,
// and a client's binding may outlive its lifetime by one interval.
func (c *Cache) Sweep(now time.Time) []Binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Binding
	for _, b := range c.byAlias {
		if !now.Before(b.Expires) {
			out = append(out, *b)
			c.drop(b)
		}
	}
	return out
}

// Keepalives returns the bindings accepted by behind whose keepalive is
// due by now, and makes the next one due every later.
func (c *Cache) Keepalives(now time.Time, every time.Duration, behind func(Binding) bool) []Binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Binding
	for _, b := range c.byAlias {
		if b.Keepalive.After(now) {
			continue
		}
		b.Keepalive = now.Add(every)
		if behind(*b) {
			out = append(out, *b)
		}
	}
	return out
}

// find is the binding of a contact of aor, or nil. Called with the lock.
func (c *Cache) find(aor, contact string) *Binding {
	for _, b := range c.byAoR[aor] {
		if b.Contact == contact {
			return b
		}
	}
	return nil
}

// Counts are how many bindings an AoR and a source address hold, for the
// limits on them.
func (c *Cache) Counts(aor string, source netip.AddrPort) (perAoR, perSource int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byAoR[aor]), c.bySource[source.Addr()]
}

func (c *Cache) count(source netip.AddrPort, n int) {
	a := source.Addr()
	if c.bySource[a] += n; c.bySource[a] <= 0 {
		delete(c.bySource, a)
	}
}

// drop removes b from every index. Called with the lock.
func (c *Cache) drop(b *Binding) {
	delete(c.byAlias, b.Alias)
	c.count(b.Flow.Source, -1)
	list := c.byAoR[b.AoR]
	for i, x := range list {
		if x == b {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.byAoR, b.AoR)
	} else {
		c.byAoR[b.AoR] = list
	}
}
