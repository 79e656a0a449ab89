package cdr

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// recordingCommitter is a committer whose flushes only note the size of
// each group; flushed returns those sizes so far.
func recordingCommitter() (c *groupCommitter, flushed func() []int) {
	var mu sync.Mutex
	var sizes []int
	c = newGroupCommitter(func(g *commitGroup) error {
		mu.Lock()
		sizes = append(sizes, g.n)
		mu.Unlock()
		return nil
	})
	return c, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

// lingeringLeader starts a commit on c that becomes the leader and
// lingers (a commit arrived during the last flush), and returns once it
// does, with the channel its result comes on.
func lingeringLeader(t *testing.T, c *groupCommitter) <-chan error {
	t.Helper()
	c.queued = true
	done := make(chan error, 1)
	go func() { done <- c.commit(func(g *commitGroup) { g.n++ }) }()
	for lingering := false; !lingering; {
		time.Sleep(time.Millisecond)
		c.mu.Lock()
		lingering = c.full != nil
		c.mu.Unlock()
	}
	return done
}

// A lingering leader flushes as soon as commitLingerCommits commits wait
// for its group, not when the linger is over: many concurrent committers
// must not each wait the linger out. The linger here is an hour, so a
// leader that waited it out would fail the test by its deadline.
func TestGroupCommitFlushesAFullGroupAtOnce(t *testing.T) {
	c, flushed := recordingCommitter()
	c.linger = time.Hour
	done := lingeringLeader(t, c)
	var others sync.WaitGroup
	for range commitLingerCommits - 1 {
		others.Go(func() {
			if err := c.commit(func(g *commitGroup) { g.n++ }); err != nil {
				t.Error(err)
			}
		})
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the leader still lingers with %d commits waiting", commitLingerCommits)
	}
	others.Wait()
	if got := flushed(); len(got) != 1 || got[0] != commitLingerCommits {
		t.Fatalf("flushed groups of %v frames, want one of %d", got, commitLingerCommits)
	}
}

// Frames enqueued without a commit ride along with the next flush but do
// not cut a linger short: nobody waits for them.
func TestGroupCommitEnqueuedFramesDoNotCount(t *testing.T) {
	c, flushed := recordingCommitter()
	c.linger = 50 * time.Millisecond
	start := time.Now()
	done := lingeringLeader(t, c)
	for range 2 * commitLingerCommits {
		if err := c.enqueue(func(g *commitGroup) { g.n++ }); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < c.linger {
		t.Fatalf("the leader flushed after %v, before its linger of %v: enqueued frames woke it", waited, c.linger)
	}
	if got := flushed(); len(got) != 1 || got[0] != 1+2*commitLingerCommits {
		t.Fatalf("flushed groups of %v frames, want one of %d", got, 1+2*commitLingerCommits)
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

// Frames enqueued while a flush runs do not make the next committer
// linger: it comes alone, and waiting would only slow it down.
func TestGroupCommitEnqueuedDuringAFlushIsNoCrowd(t *testing.T) {
	inFlush, release := make(chan struct{}), make(chan struct{})
	first := true
	c := newGroupCommitter(func(g *commitGroup) error {
		if first {
			first = false
			close(inFlush)
			<-release
		}
		return nil
	})
	c.linger = time.Hour
	done := make(chan error, 1)
	go func() { done <- c.commit(func(g *commitGroup) { g.n++ }) }()
	<-inFlush
	for range 3 {
		if err := c.enqueue(func(g *commitGroup) { g.n++ }); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	next := make(chan error, 1)
	go func() { next <- c.commit(func(g *commitGroup) { g.n++ }) }()
	select {
	case err := <-next:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lone commit lingers because frames were enqueued during the last flush")
	}
}
