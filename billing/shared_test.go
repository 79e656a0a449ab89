package billing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/testenv"
)

// sharedNode is one node's SharedLimits on its own Redis client, running.
type sharedNode struct {
	*SharedLimits
	rdb  *redis.Client
	stop context.CancelFunc
	done chan struct{}
}

func startShared(t *testing.T, addr, node string, cfg Config, down RedisDown) *sharedNode {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	// The machine running the tests is shared: Timeout is generous here,
	// what it bounds is shown with Redis stopped.
	s := NewShared(SharedConfig{Limits: cfg, Redis: rdb, Node: node, Timeout: 200 * time.Millisecond,
		Heartbeat: 100 * time.Millisecond, DeadAfter: 600 * time.Millisecond, RedisDown: down})
	ctx, cancel := context.WithCancel(context.Background())
	n := &sharedNode{SharedLimits: s, rdb: rdb, stop: cancel, done: make(chan struct{})}
	go func() { defer close(n.done); s.Run(ctx) }()
	t.Cleanup(func() { n.stop(); <-n.done; rdb.Close() })
	return n
}

// concurrently runs f n times at once and counts the nil results.
func concurrently(n int, f func(i int) error) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f(i) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok
}

// TestSharedLimitsClusterWide: three nodes on one Redis hold one account
// limit between them; releases free the slots; a node that dies with calls
// up stops counting after dead_after; with Redis stopped a fail-open node
// keeps limit ÷ nodes locally and a fail-closed one refuses with 503, both
// within the timeout; a restarted, empty Redis gets each node's counts back
// from its next heartbeat.
func TestSharedLimitsClusterWide(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	cfg := Config{AccountCalls: 10}
	n1 := startShared(t, r.Addr, "n1", cfg, FailOpen)
	n2 := startShared(t, r.Addr, "n2", cfg, FailClosed)
	n3 := startShared(t, r.Addr, "n3", cfg, FailOpen)
	nodes := []*sharedNode{n1, n2, n3}
	testenv.Eventually(t, 5*time.Second, "three nodes seen alive", func() bool { return n1.nodes.Load() == 3 })

	held := make([]bool, 30)
	got := concurrently(30, func(i int) error {
		err := nodes[i%3].AcquireAccount("acme")
		held[i] = err == nil
		return err
	})
	if got != 10 {
		t.Fatalf("%d of 30 concurrent calls admitted, want exactly 10", got)
	}
	var r1 *Refusal
	if err := n1.AcquireAccount("acme"); !errors.As(err, &r1) || r1.Status.Code != 403 {
		t.Fatalf("11th call: %v, want the account_calls refusal", err)
	}
	for i, h := range held {
		if h {
			nodes[i%3].ReleaseAccount("acme")
		}
	}
	ctx := context.Background()
	total := func() int {
		n := 0
		for _, node := range []string{"n1", "n2", "n3"} {
			v, _ := n1.rdb.HGet(ctx, keyCounts+node, "a:acme").Int()
			n += v
		}
		return n
	}
	testenv.Eventually(t, 5*time.Second, "every slot released in Redis", func() bool { return total() == 0 })

	// n3 dies holding 6 calls: its Redis client goes first, so nothing
	// of its clean stop reaches Redis.
	for range 6 {
		if err := n3.AcquireAccount("acme"); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.AcquireAccount("acme"); err != nil {
		t.Fatal(err)
	}
	n3.rdb.Close()
	n3.stop()
	<-n3.done
	for range 3 {
		if err := n1.AcquireAccount("acme"); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.AcquireAccount("acme"); err == nil {
		t.Fatal("11th call admitted while the dying node still counts")
	}
	testenv.Eventually(t, 5*time.Second, "the dead node's calls no longer count", func() bool {
		return n1.AcquireAccount("acme") == nil
	})
	for n1.AcquireAccount("acme") == nil {
	}
	if c := n1.mine.Count("a:acme"); c != 10 {
		t.Fatalf("n1 holds %d, want all 10 slots once the dead node's expired", c)
	}
	for range 10 {
		n1.ReleaseAccount("acme")
	}
	testenv.Eventually(t, 5*time.Second, "two nodes alive", func() bool { return n1.nodes.Load() == 2 })
	testenv.Eventually(t, 5*time.Second, "n1's releases in Redis", func() bool { return total() == 0 })

	// Redis stopped: n1 fails open with 10 ÷ 2 nodes = 5, n2 fails closed.
	r.Stop()
	start := time.Now()
	if got := concurrently(8, func(int) error { return n1.AcquireAccount("acme") }); got != 5 {
		t.Errorf("fail-open: %d of 8 admitted, want 10 ÷ 2 nodes = 5", got)
	}
	var r2 *Refusal
	if err := n2.AcquireAccount("acme"); !errors.As(err, &r2) || r2.Status.Code != 503 {
		t.Errorf("fail-closed: %v, want 503", err)
	}
	// Two rounds of 200 ms timeouts at most; the bound only tells "gave up
	// at the timeout" from "waited for Redis", with room for a loaded
	// machine (a parallel suite once stretched it to 1.003 s).
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("decisions without Redis took %v: each must give up at the timeout", d)
	}
	// Back, empty: n1's five calls are in Redis again from its heartbeat.
	r.Start()
	testenv.Eventually(t, 5*time.Second, "n1's counts rewritten into the new Redis", func() bool { return total() == 5 })
	if got := concurrently(8, func(int) error { return n2.AcquireAccount("acme") }); got != 5 {
		t.Errorf("after Redis came back: %d of 8 admitted on n2, want 10 - 5 = 5", got)
	}
}

// TestSharedCallRate: the calls-per-second bucket of a source is one for
// the whole cluster.
func TestSharedCallRate(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	cfg := Config{CallsPerSecond: 5, Burst: 5}
	n1 := startShared(t, r.Addr, "n1", cfg, FailOpen)
	n2 := startShared(t, r.Addr, "n2", cfg, FailOpen)
	now := time.Now()
	got := concurrently(20, func(i int) error {
		if i%2 == 0 {
			return n1.AllowCall("192.0.2.1", now)
		}
		return n2.AllowCall("192.0.2.1", now)
	})
	if got != 5 {
		t.Errorf("%d of 20 calls in the same instant admitted, want the burst of 5", got)
	}
	if err := n1.AllowCall("192.0.2.1", now.Add(time.Second)); err != nil {
		t.Errorf("a second later: %v, want a refilled token", err)
	}
}

// TestSharedProfileKeys: a call profile's limit key is held cluster-wide
// like an account, each call with its profile's limit; releases free the
// slots in Redis; with Redis stopped a fail-open node keeps limit ÷ nodes
// and a fail-closed one refuses as unchecked (503), not as over the limit.
func TestSharedProfileKeys(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	n1 := startShared(t, r.Addr, "n1", Config{}, FailOpen)
	n2 := startShared(t, r.Addr, "n2", Config{}, FailClosed)
	testenv.Eventually(t, 5*time.Second, "two nodes seen alive", func() bool {
		return n1.nodes.Load() == 2 && n2.nodes.Load() == 2
	})
	nodes := []*sharedNode{n1, n2}
	held := make([]bool, 12)
	if got := concurrently(12, func(i int) error {
		err := nodes[i%2].AcquireKey("acme", 4)
		held[i] = err == nil
		return err
	}); got != 4 {
		t.Fatalf("%d of 12 concurrent calls admitted under the key, want exactly 4", got)
	}
	var over *Refusal
	if err := n2.AcquireKey("acme", 4); !errors.As(err, &over) || over.Kind != ProfileCalls || over.Cause != OverLimit || over.Key != "acme" {
		t.Fatalf("5th call: %v, want over the profile_calls limit", err)
	}
	// Another profile with a higher max_calls on the same key: counted in
	// the same place, judged by its own limit.
	if err := n1.AcquireKey("acme", 5); err != nil {
		t.Fatalf("a call of a profile allowing 5: %v", err)
	}
	n1.ReleaseKey("acme")
	if err := n1.AcquireKey("other", 0); err == nil {
		t.Fatal("max_calls 0 admitted a call")
	}
	for i, h := range held {
		if h {
			nodes[i%2].ReleaseKey("acme")
		}
	}
	ctx := context.Background()
	total := func() int {
		n := 0
		for _, node := range []string{"n1", "n2"} {
			v, _ := n1.rdb.HGet(ctx, keyCounts+node, "p:acme").Int()
			n += v
		}
		return n
	}
	testenv.Eventually(t, 5*time.Second, "every key slot released in Redis", func() bool { return total() == 0 })
	if got := concurrently(6, func(int) error { return n2.AcquireKey("acme", 4) }); got != 4 {
		t.Fatalf("after the releases: %d of 6 admitted, want all 4 slots back", got)
	}
	for range 4 {
		n2.ReleaseKey("acme")
	}
	testenv.Eventually(t, 5*time.Second, "released again", func() bool { return total() == 0 })

	r.Stop()
	if got := concurrently(5, func(int) error { return n1.AcquireKey("acme", 4) }); got != 2 {
		t.Errorf("fail-open: %d of 5 admitted, want 4 ÷ 2 nodes = 2", got)
	}
	var unchecked *Refusal
	if err := n2.AcquireKey("acme", 4); !errors.As(err, &unchecked) || unchecked.Cause != Unchecked || unchecked.Status.Code != 503 {
		t.Errorf("fail-closed: %v, want an unchecked 503", err)
	}
}
