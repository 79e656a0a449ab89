package billing

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestAccountAndGatewayLimits(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{AccountCalls: 2, AccountLimits: map[string]int{"vip": 3}, GatewayCalls: 1})
	for range 2 {
		if err := l.AcquireAccount("acme"); err != nil {
			t.Fatal(err)
		}
	}
	err := l.AcquireAccount("acme")
	var r *Refusal
	if !errors.As(err, &r) || r.Kind != AccountCalls || r.Status.Code != 403 || r.Key != "acme" {
		t.Fatalf("third call: %v", err)
	}
	for i := range 3 {
		if err := l.AcquireAccount("vip"); err != nil {
			t.Fatalf("vip call %d: %v", i, err)
		}
	}
	l.ReleaseAccount("acme")
	if err := l.AcquireAccount("acme"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if n := l.ActiveAccount("acme"); n != 2 {
		t.Errorf("active %d", n)
	}
	if err := l.AcquireGateway("gw1"); err != nil {
		t.Fatal(err)
	}
	if err := l.AcquireGateway("gw1"); !errors.As(err, &r) || r.Kind != GatewayCalls || r.Status.Code != 503 {
		t.Fatalf("gateway: %v", err)
	}
	l.ReleaseGateway("gw1")
	if err := l.AcquireGateway("gw1"); err != nil {
		t.Fatal(err)
	}
	if got := l.Refused(); got[AccountCalls] != 1 || got[GatewayCalls] != 1 {
		t.Errorf("refusal counts %v", got)
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{})
	for range 1000 {
		if err := l.AcquireAccount("a"); err != nil {
			t.Fatal(err)
		}
		if err := l.AllowCall("1.2.3.4", time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCallRate(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{CallsPerSecond: 10, Burst: 5, Statuses: map[Kind]Status{CallRate: {486, "Slow Down"}}})
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		if err := l.AllowCall("10.0.0.1", t0); err != nil {
			t.Fatalf("burst call %d: %v", i, err)
		}
	}
	var r *Refusal
	if err := l.AllowCall("10.0.0.1", t0); !errors.As(err, &r) || r.Status != (Status{486, "Slow Down"}) {
		t.Fatalf("over burst: %v", err)
	}
	if err := l.AllowCall("10.0.0.2", t0); err != nil {
		t.Fatalf("other source: %v", err)
	}
	if err := l.AllowCall("10.0.0.1", t0.Add(100*time.Millisecond)); err != nil {
		t.Fatalf("after one token refilled: %v", err)
	}
	if err := l.AllowCall("10.0.0.1", t0.Add(100*time.Millisecond)); err == nil {
		t.Fatal("second call in the same 100 ms allowed")
	}
}

func TestCallRateSweepBoundsMemory(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{CallsPerSecond: 1})
	t0 := time.Unix(0, 0)
	for i := range 100_000 {
		_ = l.AllowCall(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	total := 0
	for i := range l.sources {
		total += len(l.sources[i].b)
	}
	if total > shards*4096 {
		t.Errorf("%d buckets kept", total)
	}
}

func TestGrantCredit(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{MaxCredit: time.Hour})
	cases := []struct {
		radius, route Credit
		want          Credit
		refused       bool
	}{
		{Credit{}, Credit{}, Limit(time.Hour), false},
		{Limit(120 * time.Second), Credit{}, Limit(120 * time.Second), false},
		{Limit(120 * time.Second), Limit(60 * time.Second), Limit(60 * time.Second), false},
		{Limit(2 * time.Hour), Credit{}, Limit(time.Hour), false},
		{Limit(0), Limit(60 * time.Second), Limit(0), true},
		{Limit(60 * time.Second), Limit(0), Limit(0), true},
	}
	for _, c := range cases {
		got, err := l.GrantCredit(c.radius, c.route)
		var r *Refusal
		if got != c.want || (err != nil) != c.refused || (c.refused && (!errors.As(err, &r) || r.Kind != NoCredit || r.Status.Code != 402)) {
			t.Errorf("GrantCredit(%v, %v) = %v, %v; want %v refused=%v", c.radius, c.route, got, err, c.want, c.refused)
		}
	}
	if g, err := NewLimits(Config{}).GrantCredit(Credit{}, Credit{}); err != nil || g.Set {
		t.Errorf("no limits anywhere: %v %v", g, err)
	}
}

func TestConcurrentAcquireRelease(t *testing.T) {
	t.Parallel()
	l := NewLimits(Config{AccountCalls: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				acct := fmt.Sprint("a", (g+i)%10)
				if l.AcquireAccount(acct) == nil {
					l.ReleaseAccount(acct)
				}
			}
		})
	}
	wg.Wait()
	for i := range 10 {
		if n := l.ActiveAccount(fmt.Sprint("a", i)); n != 0 {
			t.Errorf("a%d left at %d", i, n)
		}
	}
}

func BenchmarkAcquireReleaseAccount(b *testing.B) {
	l := NewLimits(Config{AccountCalls: 1 << 30})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("account-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			if err := l.AcquireAccount(k); err != nil {
				b.Fatal(err)
			}
			l.ReleaseAccount(k)
			i++
		}
	})
}

func BenchmarkAllowCall(b *testing.B) {
	l := NewLimits(Config{CallsPerSecond: 1e9, Burst: 1 << 30})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("10.0.", i/256, ".", i%256)
	}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := l.AllowCall(keys[i%len(keys)], now); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
