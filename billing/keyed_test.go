package billing

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestKeyedLimitsEachKey(t *testing.T) {
	t.Parallel()
	var k Keyed // the zero value is usable
	for i := 0; i < 2; i++ {
		if !k.Acquire("sip:alice@x", 2) {
			t.Fatalf("acquire %d refused", i)
		}
	}
	if k.Acquire("sip:alice@x", 2) {
		t.Fatal("third call of alice allowed with a limit of 2")
	}
	if !k.Acquire("sip:bob@x", 2) {
		t.Fatal("bob refused because of alice")
	}
	if !k.Acquire("sip:alice@x", 3) {
		t.Fatal("a higher limit from another profile refused")
	}
	if got := k.Count("sip:alice@x"); got != 3 {
		t.Fatalf("count %d", got)
	}
	for i := 0; i < 3; i++ {
		k.Release("sip:alice@x")
	}
	k.Release("sip:bob@x")
	if k.Keys() != 0 || k.Count("sip:alice@x") != 0 {
		t.Fatalf("idle keys kept: %d", k.Keys())
	}
}

func TestKeyedReleaseOfIdleKeyGivesNothingAway(t *testing.T) {
	t.Parallel()
	var k Keyed
	k.Release("ghost")
	if !k.Acquire("ghost", 1) || k.Acquire("ghost", 1) {
		t.Fatal("a release without an acquire changed the count")
	}
}

func TestKeyedZeroLimitRefuses(t *testing.T) {
	t.Parallel()
	var k Keyed
	if k.Acquire("x", 0) || k.Acquire("x", -1) {
		t.Fatal("limit below 1 allowed a call")
	}
	if k.Keys() != 0 {
		t.Fatal("a refusal left a key")
	}
}

// TestKeyedConcurrent: with many goroutines racing on a few keys, no key
// ever exceeds its limit and every count returns to zero.
func TestKeyedConcurrent(t *testing.T) {
	t.Parallel()
	var k Keyed
	const limit, workers, rounds = 3, 16, 500
	var inUse [4]atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				i := (w + r) % len(inUse)
				key := "key" + strconv.Itoa(i)
				if !k.Acquire(key, limit) {
					continue
				}
				if n := inUse[i].Add(1); n > limit {
					t.Errorf("%s has %d > %d", key, n, limit)
				}
				inUse[i].Add(-1)
				k.Release(key)
			}
		}()
	}
	wg.Wait()
	if k.Keys() != 0 {
		t.Fatalf("%d keys left", k.Keys())
	}
}

func BenchmarkKeyedAcquireRelease(b *testing.B) {
	var k Keyed
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "sip:" + strconv.Itoa(i) + "@carrier.example"
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			key := keys[i%len(keys)]
			if k.Acquire(key, 10) {
				k.Release(key)
			}
			i++
		}
	})
}

// BenchmarkKeyedBusyKey is a key that stays counted, the common case of a
// customer with calls up: no map insert, no allocation.
func BenchmarkKeyedBusyKey(b *testing.B) {
	var k Keyed
	k.Acquire("sip:busy@x", 1<<30)
	b.ReportAllocs()
	for b.Loop() {
		if k.Acquire("sip:busy@x", 1<<30) {
			k.Release("sip:busy@x")
		}
	}
}
