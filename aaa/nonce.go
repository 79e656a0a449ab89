package aaa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// Nonce errors. A stale nonce deserves a new challenge with stale=true; the
// others a plain new challenge.
var (
	ErrNonceInvalid = errors.New("digest: nonce not issued by this switch")
	ErrNonceStale   = errors.New("digest: nonce expired")
	ErrNonceUsed    = errors.New("digest: nonce already used")
)

// NonceConfig configures the digest nonces.
type NonceConfig struct {
	// Key signs nonces; empty means a random key per process (nonces then
	// do not survive a restart, which only costs a new challenge).
	Key      []byte
	Lifetime time.Duration // default 60 s
	// MaxUsed bounds the memory of used nonces; default 65536.
	MaxUsed int
}

const (
	nonceShards = 16
	nonceRaw    = 8 + 8 + 16 // issue time, random, truncated HMAC-SHA256
)

// Nonces issues and checks Tollgate's own digest nonces: signed, expiring,
// and accepted once. Lock-sharded for concurrent use.
type Nonces struct {
	key      []byte
	lifetime time.Duration
	seed     maphash.Seed
	shards   [nonceShards]nonceShard
	perShard int
	now      func() time.Time
}

// nonceShard remembers used nonces until they expire. When full it forgets
// the oldest and raises floor to its issue time: every nonce issued at or
// before floor is then refused, so forgetting never re-opens a replay.
type nonceShard struct {
	mu    sync.Mutex
	used  map[string]int64 // nonce → issue time (ns)
	order []string         // FIFO of used nonces
	floor int64
}

// NewNonces makes a nonce issuer.
func NewNonces(cfg NonceConfig) *Nonces {
	if len(cfg.Key) == 0 {
		cfg.Key = make([]byte, 32)
		_, _ = rand.Read(cfg.Key)
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 60 * time.Second
	}
	if cfg.MaxUsed <= 0 {
		cfg.MaxUsed = 65536
	}
	n := &Nonces{key: cfg.Key, lifetime: cfg.Lifetime, seed: maphash.MakeSeed(), now: time.Now}
	n.perShard = max(cfg.MaxUsed/nonceShards, 1)
	for i := range n.shards {
		n.shards[i].used = make(map[string]int64)
	}
	return n
}

func (n *Nonces) sign(b []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:16])
	return m.Sum(nil)[:16]
}

// Issue returns a fresh nonce.
func (n *Nonces) Issue() string {
	var b [nonceRaw]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n.now().UnixNano()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], n.sign(b[:]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Challenge returns a Proxy-Authenticate / WWW-Authenticate value with a
// fresh nonce; stale tells the client its password was right but the nonce
// had expired (RFC 2617), so it retries without asking the user.
func (n *Nonces) Challenge(realm string, stale bool) string {
	var b strings.Builder
	b.WriteString(`Digest realm="`)
	b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm))
	b.WriteString(`", nonce="`)
	b.WriteString(n.Issue())
	b.WriteString(`", algorithm=MD5, qop="auth"`)
	if stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

// Verify checks that nonce is ours, unexpired and unused, and marks it used.
func (n *Nonces) Verify(nonce string) error {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceRaw || !hmac.Equal(n.sign(b), b[16:]) {
		return ErrNonceInvalid
	}
	issued := int64(binary.BigEndian.Uint64(b[:8]))
	now := n.now().UnixNano()
	if now-issued > int64(n.lifetime) || issued-now > int64(time.Second) {
		return ErrNonceStale
	}
	s := &n.shards[maphash.String(n.seed, nonce)%nonceShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.used[nonce]; ok || issued <= s.floor {
		return ErrNonceUsed
	}
	// Forget expired entries from the front, then the oldest if still full.
	for len(s.order) > 0 && (now-s.used[s.order[0]] > int64(n.lifetime) || len(s.order) >= n.perShard) {
		old := s.order[0]
		if len(s.order) >= n.perShard {
			s.floor = max(s.floor, s.used[old])
		}
		delete(s.used, old)
		s.order = s.order[1:]
	}
	s.used[nonce] = issued
	s.order = append(s.order, nonce)
	return nil
}

// CheckAuthorization parses an Authorization / Proxy-Authorization header
// value and verifies its nonce, giving the credentials to send to RADIUS.
// method is the request's SIP method. The password is checked by RADIUS.
func (n *Nonces) CheckAuthorization(header, method string) (*DigestCredentials, error) {
	c, err := digest.ParseCredentials(header)
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	if c.Username == "" || c.Nonce == "" || c.URI == "" || len(c.Response) != 32 {
		return nil, errors.New("digest: Authorization lacks username, nonce, uri or response")
	}
	if alg := strings.ToUpper(c.Algorithm); alg != "" && alg != "MD5" {
		return nil, fmt.Errorf("digest: algorithm %q not supported", c.Algorithm)
	}
	// Each field travels to RADIUS in a sub-attribute of its own: one too
	// long to fit is the caller's bad header, to be challenged again, not a
	// failure of the authorisation (503) once the nonce is spent.
	for _, v := range []string{c.Username, c.Realm, c.URI, c.QOP, c.Cnonce} {
		if len(v) > maxDigestField {
			return nil, fmt.Errorf("digest: a field of %d bytes is longer than RADIUS carries", len(v))
		}
	}
	if err := n.Verify(c.Nonce); err != nil {
		return nil, err
	}
	d := &DigestCredentials{
		Username:  c.Username,
		Realm:     c.Realm,
		Nonce:     c.Nonce,
		Method:    method,
		URI:       c.URI,
		Response:  c.Response,
		Algorithm: c.Algorithm,
		QOP:       c.QOP,
		CNonce:    c.Cnonce,
	}
	if c.QOP != "" {
		d.NonceCount = fmt.Sprintf("%08x", c.Nc)
	}
	return d, nil
}
