package cdr

import (
	"sync"
	"testing"
	"time"
)

// A lingering leader flushes as soon as its group reaches
// commitLingerFrames, not when the linger is over: many concurrent
// appenders must not each wait the linger out. The linger here is an hour,
// so a leader that waited it out would fail the test by its deadline.
func TestGroupCommitFlushesAFullGroupAtOnce(t *testing.T) {
	var mu sync.Mutex
	var flushed []int
	c := newGroupCommitter(func(g *commitGroup) error {
		mu.Lock()
		flushed = append(flushed, g.n)
		mu.Unlock()
		return nil
	})
	c.linger = time.Hour
	frame := func(g *commitGroup) { g.n++ }
	// Frames arrived during the last flush: the next leader lingers.
	c.queued = true
	done := make(chan error, 1)
	go func() { done <- c.commit(frame) }()
	for lingering := false; !lingering; {
		time.Sleep(time.Millisecond)
		c.mu.Lock()
		lingering = c.full != nil
		c.mu.Unlock()
	}
	for range commitLingerFrames - 1 {
		if err := c.enqueue(frame); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the leader still lingers with %d frames in its group", commitLingerFrames)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(flushed) != 1 || flushed[0] != commitLingerFrames {
		t.Fatalf("flushed groups of %v frames, want one of %d", flushed, commitLingerFrames)
	}
}

// A leader whose group stays small flushes when the linger is over.
func TestGroupCommitLingersForMoreFrames(t *testing.T) {
	flushes := 0
	c := newGroupCommitter(func(g *commitGroup) error { flushes++; return nil })
	c.linger = 10 * time.Millisecond
	c.queued = true
	start := time.Now()
	if err := c.commit(func(g *commitGroup) { g.n++ }); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < c.linger {
		t.Fatalf("the leader flushed after %v, before its linger of %v", waited, c.linger)
	}
	if flushes != 1 {
		t.Fatalf("%d flushes, want 1", flushes)
	}
}
