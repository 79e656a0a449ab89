package aaa

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func TestNonces(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	n := NewNonces(NonceConfig{Key: []byte("k"), Lifetime: 30 * time.Second, MaxUsed: 32})
	n.now = func() time.Time { return now }

	nonce := n.Issue()
	if err := n.Verify(nonce); err != nil {
		t.Fatal(err)
	}
	if err := n.Verify(nonce); !errors.Is(err, ErrNonceUsed) {
		t.Errorf("replay: %v", err)
	}
	if err := NewNonces(NonceConfig{Key: []byte("other")}).Verify(n.Issue()); !errors.Is(err, ErrNonceInvalid) {
		t.Errorf("foreign key: %v", err)
	}
	for _, bad := range []string{"", "!!", strings.Repeat("A", 43)} {
		if err := n.Verify(bad); !errors.Is(err, ErrNonceInvalid) {
			t.Errorf("Verify(%q): %v", bad, err)
		}
	}
	old := n.Issue()
	now = now.Add(31 * time.Second)
	if err := n.Verify(old); !errors.Is(err, ErrNonceStale) {
		t.Errorf("expired: %v", err)
	}
	// Many more used nonces than the cache holds: none replays.
	var used []string
	for range 500 {
		s := n.Issue()
		if err := n.Verify(s); err != nil {
			t.Fatal(err)
		}
		used = append(used, s)
		now = now.Add(time.Millisecond)
	}
	for _, s := range used {
		if err := n.Verify(s); err == nil {
			t.Fatal("a used nonce verified again after eviction")
		}
	}
}

func TestCheckAuthorization(t *testing.T) {
	t.Parallel()
	n := NewNonces(NonceConfig{})
	chal, err := digest.ParseChallenge(n.Challenge(`tollgate "test"`, true))
	if err != nil {
		t.Fatal(err)
	}
	if chal.Realm != `tollgate "test"` || !chal.Stale || !chal.SupportsQOP("auth") {
		t.Errorf("challenge %+v", chal)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:1@h", Username: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.CheckAuthorization(cred.String(), "INVITE")
	if err != nil {
		t.Fatal(err)
	}
	if d.Username != "alice" || d.NonceCount != "00000001" || d.QOP != "auth" || d.Method != "INVITE" || d.CNonce == "" {
		t.Errorf("%+v", d)
	}
	if _, err := n.CheckAuthorization(cred.String(), "INVITE"); !errors.Is(err, ErrNonceUsed) {
		t.Errorf("replayed Authorization: %v", err)
	}
	if _, err := n.CheckAuthorization(`Basic YWxpY2U6cHc=`, "INVITE"); err == nil {
		t.Error("Basic accepted")
	}
}

func BenchmarkNonceIssueVerify(b *testing.B) {
	n := NewNonces(NonceConfig{})
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Verify(n.Issue()); err != nil {
			b.Fatal(err)
		}
	}
}
