package registrar

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func binding(aor, contact string, expires time.Time) Binding {
	return Binding{AoR: aor, Contact: contact, Alias: Alias(aor, contact), CallID: "c1", CSeq: 1,
		Flow:    Flow{Transport: "udp", Source: netip.MustParseAddrPort("192.0.2.1:5060")},
		Expires: expires, Upstream: expires.Add(time.Hour)}
}

func TestCacheSeveralContactsPerAoR(t *testing.T) {
	t.Parallel()
	c := NewCache()
	now := time.Now()
	c.Put(binding("alice@example.net", "sip:alice@10.0.0.1:5060", now.Add(time.Minute)))
	c.Put(binding("alice@example.net", "sip:alice@10.0.0.2:5060", now.Add(time.Minute)))
	c.Put(binding("bob@example.net", "sip:bob@10.0.0.3:5060", now.Add(time.Minute)))
	if n := len(c.Bindings("alice@example.net")); n != 2 {
		t.Fatalf("alice has %d bindings, want 2", n)
	}
	// A refresh replaces its binding, it does not add one.
	c.Put(binding("alice@example.net", "sip:alice@10.0.0.1:5060", now.Add(2*time.Minute)))
	if c.Len() != 3 {
		t.Fatalf("Len = %d after a refresh, want 3", c.Len())
	}
	b, ok := c.ByAlias(Alias("alice@example.net", "sip:alice@10.0.0.2:5060"))
	if !ok || b.Contact != "sip:alice@10.0.0.2:5060" {
		t.Fatalf("ByAlias = %+v, %v", b, ok)
	}
	if _, ok := c.Remove("alice@example.net", "sip:alice@10.0.0.2:5060"); !ok {
		t.Fatal("Remove found nothing")
	}
	if _, ok := c.ByAlias(b.Alias); ok {
		t.Error("a removed binding's alias still resolves")
	}
	if got := c.RemoveAoR("alice@example.net"); len(got) != 1 {
		t.Errorf("RemoveAoR removed %d, want 1", len(got))
	}
	if all := c.All(); len(all) != 1 || all[0].AoR != "bob@example.net" {
		t.Errorf("All = %+v, want bob's only", all)
	}
}

func TestCacheSweep(t *testing.T) {
	t.Parallel()
	c := NewCache()
	now := time.Now()
	c.Put(binding("a@x", "sip:a@h1", now.Add(-time.Second)))
	c.Put(binding("a@x", "sip:a@h2", now.Add(time.Minute)))
	gone := c.Sweep(now)
	if len(gone) != 1 || gone[0].Contact != "sip:a@h1" {
		t.Fatalf("Sweep = %+v", gone)
	}
	if bs := c.Bindings("a@x"); len(bs) != 1 || bs[0].Contact != "sip:a@h2" {
		t.Errorf("left: %+v", bs)
	}
}

func TestCacheOrder(t *testing.T) {
	t.Parallel()
	c := NewCache()
	c.Put(binding("a@x", "sip:a@h1", time.Now().Add(time.Minute)))
	if err := c.CheckOrder("a@x", "c1", 1); err != ErrOutOfOrder {
		t.Errorf("same CSeq: %v, want ErrOutOfOrder", err)
	}
	if err := c.CheckOrder("a@x", "c1", 2); err != nil {
		t.Errorf("next CSeq: %v", err)
	}
	if err := c.CheckOrder("a@x", "other", 1); err != nil {
		t.Errorf("another Call-ID: %v", err)
	}
}

func TestAliasStable(t *testing.T) {
	t.Parallel()
	a := Alias("a@x", "sip:a@h1")
	if a != Alias("a@x", "sip:a@h1") || a == Alias("a@x", "sip:a@h2") || a[:len(AliasPrefix)] != AliasPrefix {
		t.Errorf("Alias = %s: want a stable, distinct, prefixed alias", a)
	}
}

// BenchmarkCacheMemory reports the heap a binding costs at 100,000
// bindings (one contact per AoR, as phones register).
func BenchmarkCacheMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := NewCache()
		now := time.Now()
		for i := range n {
			aor := "user" + strconv.Itoa(i) + "@example.net"
			contact := "sip:user" + strconv.Itoa(i) + "@10.1." + strconv.Itoa(i/250%250) + "." + strconv.Itoa(i%250) + ":5060"
			bd := binding(aor, contact, now.Add(time.Minute))
			bd.CallID = strconv.Itoa(i) + "-3c26700b@10.1.1.1"
			bd.UserAgent = "Yealink SIP-T46S 66.86.0.15"
			c.Put(bd)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/binding")
		runtime.KeepAlive(c)
	}
}
