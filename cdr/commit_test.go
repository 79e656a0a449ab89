package cdr

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// recordingCommitter is a committer whose flushes take flushTime (a
// fdatasync takes a few hundred microseconds) and note size(g) of each
// group: framesOf or commitsOf. flushed returns those sizes so far.
func recordingCommitter(flushTime time.Duration, size func(g *commitGroup) int) (c *groupCommitter, flushed func() []int) {
	var mu sync.Mutex
	var sizes []int
	c = newGroupCommitter(func(g *commitGroup) error {
		time.Sleep(flushTime)
		mu.Lock()
		sizes = append(sizes, size(g))
		mu.Unlock()
		return nil
	})
	return c, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

// framesOf is the frames a group carried, commits or enqueued.
func framesOf(g *commitGroup) int { return g.n }

// commitsOf is the commits that waited for a group.
func commitsOf(g *commitGroup) int { return g.waiters }

// lingeringLeader starts a commit on c that becomes the leader and
// lingers (a commit arrived during the last flush), and returns once it
// does, with the channel its result comes on.
func lingeringLeader(t *testing.T, c *groupCommitter) <-chan error {
	t.Helper()
	c.pace = paceConcurrent
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
	c, flushed := recordingCommitter(0, framesOf)
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
	c, flushed := recordingCommitter(0, framesOf)
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
	c.pace = paceConcurrent
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

// A committer alone, waiting for each commit before the next, never
// lingers: every commit is a group of its own, flushed at once. The
// linger is an hour, so one that lingered would fail the test by its
// deadline.
func TestGroupCommitSequentialCommitterDoesNotLinger(t *testing.T) {
	t.Parallel()
	c, flushed := recordingCommitter(200*time.Microsecond, commitsOf)
	c.linger = time.Hour
	done := make(chan error, 1)
	go func() {
		for range 50 {
			if err := c.commit(func(g *commitGroup) { g.n++ }); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a sequential committer lingers; flushed so far %v", flushed())
	}
	if got := flushed(); len(got) != 50 || slices.Max(got) != 1 {
		t.Fatalf("flushed groups of %v commits, want 50 of 1", got)
	}
}

// Committers that arrive on their own, one every millisecond (calls
// ending at 1,000 a second, each from its own goroutine), keep the leader
// lingering: once two commits have met, each group gathers what a linger
// brings (20 here), about one flush a linger. The rule before flushed a
// group of one at once after most lingered groups (no commit had come
// during their short flush), and lingered again after it: a fsync for
// every few calls. Asserted on the groups' sizes, with margins for a
// loaded machine (a committer late by a whole linger makes a group of
// one), not on times. Not run in parallel with the package's other tests,
// which would only make such late committers likelier.
func TestGroupCommitConcurrentCommittersKeepLingering(t *testing.T) {
	c, flushed := recordingCommitter(300*time.Microsecond, commitsOf)
	c.linger = 20 * time.Millisecond
	const commits = 400
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var committers sync.WaitGroup
	for range commits {
		<-tick.C
		committers.Go(func() {
			if err := c.commit(func(g *commitGroup) { g.n++ }); err != nil {
				t.Error(err)
			}
		})
	}
	committers.Wait()
	groups := flushed()
	// Before two commits first meet (one arriving during another's flush),
	// each is alone and flushed at once. The last group may be small: the
	// commits ended.
	first := slices.IndexFunc(groups, func(n int) bool { return n > 1 })
	if first < 0 {
		t.Fatalf("no two of %d commits shared a flush: groups %v", commits, groups)
	}
	steady := groups[first : len(groups)-1]
	alone, total := 0, 0
	for i, n := range steady {
		total += n
		if n == 1 && steady[i-1] > 1 {
			alone++
		}
	}
	if alone > 3 || total < 5*len(steady) {
		t.Fatalf("once lingering, %d groups of one commit flushed right after a bigger one, %d commits a group on average (want about 20): groups %v",
			alone, total/max(len(steady), 1), groups)
	}
}
