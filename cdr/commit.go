package cdr

import (
	"errors"
	"slices"
	"sync"
	"time"
)

var errClosed = errors.New("cdr: closed")

// commitGroup is the frames of concurrent appenders that one write and one
// fsync make durable together.
type commitGroup struct {
	buf      []byte
	n        int    // frames in buf
	firstSeq uint64 // spool: sequence numbers of the first and last frame
	lastSeq  uint64
	firstTS  int64 // spool: append time of the first frame
	// calls are the journal's entries in buf, noted in its live set once
	// the group is written.
	calls []callNote
	// records are the spool's records in buf, as a reader decodes them,
	// for the spool's tail once the group is durable; their frames' bytes
	// are counted from the start of buf.
	records []tailRecord
	// waiters are the commits waiting for this group to be durable; a
	// group without any may be written out without a sync (writeOut).
	waiters int
	// sync says the flush must make the group durable (fsync), not only
	// hand it to the kernel.
	sync bool
	done bool
	err  error
}

// callNote is a journal entry about one call: its sequence number and kind.
type callNote struct {
	key  callKey
	seq  uint64
	kind byte
}

// noteCall notes the journal's entry seq of kind about call id, if id is a
// UUID (no other is ever in the live set).
func (g *commitGroup) noteCall(id string, seq uint64, kind byte) {
	if key, ok := keyOf(id); ok {
		g.calls = append(g.calls, callNote{key: key, seq: seq, kind: kind})
	}
}

// addRecord is the place of one more of the spool's records in g, for
// the appender to fill in under the committer's lock: a record built in
// the appender's frame first would cost its stack 800 bytes more.
func (g *commitGroup) addRecord() *tailRecord {
	n := len(g.records)
	g.records = slices.Grow(g.records, 1)[:n+1]
	return &g.records[n]
}

// groupCommitter implements group commit: the first appender to find no
// flush in progress becomes the leader and flushes everything queued so far;
// the others queue into the next group and wait. Under load a group grows
// to whatever arrived during the previous fsync, so fsyncs per second stay
// bounded by the disk while appends per second scale with concurrency.
type groupCommitter struct {
	mu       sync.Mutex
	cond     sync.Cond
	cur      *commitGroup
	flushing bool
	closed   bool
	// spares are buffers of flushed groups, for the next groups: one fills
	// while another is flushed, so two are enough. Keeping only the last
	// dropped one whenever a flush ran with no group filling, and a group
	// then grew a new buffer from nothing (4 kB of garbage per call in
	// BenchmarkCallRecords).
	spares []spareGroup
	// pace is what the last flush showed of the committers: whether the
	// next leader lingers for more of them.
	pace commitPace
	// full, while a leader lingers, is closed by the commit that brings the
	// group's waiting commits to commitLingerCommits, so that the leader
	// flushes at once: with many committers a group fills long before the
	// linger is over.
	full chan struct{}
	// linger is commitLinger, but for tests.
	linger time.Duration
	// flush writes g.buf durably. It runs without mu, one call at a time, in
	// group order.
	flush func(g *commitGroup) error
}

// commitPace is what the last flush showed of the committers.
type commitPace int

const (
	// paceAlone: the last group carried one commit, and none came while it
	// was flushed. A committer alone, waiting for each commit before the
	// next, is never lingered for: it would only be slowed down. Nor are
	// commits further apart than the linger, which would gather nobody.
	paceAlone commitPace = iota
	// paceConcurrent: the last group carried several commits, or some
	// came while it was flushed. Committers arrive on their own, not in
	// step with the flushes, and the next leader lingers to gather them.
	// Judged by the commits that came during the flush alone, as it was
	// before, committers at a steady rate kept falling out of it: a flush
	// takes ~0.3 ms, so at 1,000 calls/s most flushes of a lingered group
	// saw no commit come, and the next commit was flushed alone at once,
	// alternating lingered groups with groups of one (85 fdatasyncs a
	// second on the spool, 37 on the journal, where the linger means at
	// most 50; BenchmarkSpoolAppendPaced: 140-270 a second, now ~50).
	paceConcurrent
)

// commitLinger is how long a leader waits before flushing while appenders
// are concurrent (paceConcurrent). A fsync is quick on an idle disk (a
// fraction of a millisecond), so under a steady call rate each one used to
// carry a single call's frame: about one fsync per call for the journal
// and one for the spool, a tenth of the switch's CPU per call. Waiting
// lets a group gather the frames of a few milliseconds, which cost the
// calls nothing: the switch appends after the answer or the BYEs have gone
// out. A lone committer does not wait (paceAlone), nor does a group
// already big enough to share its fsync well (commitLingerCommits). Who
// pays is a fixed handful of goroutines that each wait for their commit
// before the next, fewer than commitLingerCommits: they meet in every
// group, and every round waits out the linger (BenchmarkCallRecords'
// loops). The switch's commits are its calls', which come on their own.
// Frames enqueued without a commit (the journal's setup entries) ride
// along but do not count: nobody waits for them.
//
// 20 ms, not the 5 ms it was: on this virtual machine's disk a fdatasync
// costs the caller 90–290 µs of CPU (the flush runs in its context), and
// at 1,000 calls/s the 5 ms linger still left ~440 syncs a second across
// the CDR files (perf stat), a tenth of the CPU profile; 20 ms leaves ~165.
// Records are no less durable: the SIP messages of a call have left before
// its records are committed, so a power cut loses the records not yet
// synced either way, now those of 20 ms instead of 5. What waits longer is
// a call hung up within the linger of its answer: its BYE to the other leg
// waits for the journal's Connected entry (call.end), by up to 20 ms. A
// group that reaches commitLingerCommits is flushed at once (full), so many
// concurrent committers are not slowed by the linger.
const (
	commitLinger        = 20 * time.Millisecond
	commitLingerCommits = 32
)

// spareGroup is what a flushed group leaves for the next.
type spareGroup struct {
	buf     []byte
	calls   []callNote
	records []tailRecord
}

// current is the group frames are added to, opened on spare buffers when
// there is none. Called with mu held.
func (c *groupCommitter) current() *commitGroup {
	if c.cur == nil {
		c.cur = &commitGroup{}
		if n := len(c.spares); n > 0 {
			c.cur.buf, c.cur.calls, c.cur.records = c.spares[n-1].buf, c.spares[n-1].calls, c.spares[n-1].records
			c.spares = c.spares[:n-1]
		}
	}
	return c.cur
}

// recycle keeps a flushed group's buffers for the next groups (not a
// rare huge one). Its records are cleared first: the spool's tail and its
// consumer have their own copies, and a spare must not keep them alive.
// Called with mu held.
func (c *groupCommitter) recycle(g *commitGroup) {
	clear(g.records)
	if cap(g.buf) <= 4<<20 && len(c.spares) < 2 {
		c.spares = append(c.spares, spareGroup{buf: g.buf[:0], calls: g.calls[:0], records: g.records[:0]})
	}
	g.buf, g.calls, g.records = nil, nil, nil
}

func newGroupCommitter(flush func(g *commitGroup) error) *groupCommitter {
	c := &groupCommitter{flush: flush, linger: commitLinger}
	c.cond.L = &c.mu
	return c
}

// commit runs add under the committer's lock (to append a frame to the
// current group and assign it a place in the order) and returns once that
// group is durable, or with the error that kept it from being so.
func (c *groupCommitter) commit(add func(g *commitGroup)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	g := c.current()
	add(g)
	g.waiters++
	c.added(g)
	for !g.done {
		if c.flushing {
			c.cond.Wait()
			continue
		}
		if c.closed {
			return errClosed
		}
		c.flushing = true
		if c.pace == paceConcurrent && c.cur.waiters < commitLingerCommits {
			full := make(chan struct{})
			c.full = full
			c.mu.Unlock()
			linger := time.NewTimer(c.linger)
			select {
			case <-full:
			case <-linger.C:
			}
			linger.Stop()
			c.mu.Lock()
			c.full = nil
		}
		fg := c.cur
		c.cur = nil
		fg.sync = true
		c.mu.Unlock()
		err := c.flush(fg)
		c.mu.Lock()
		c.pace = paceAlone
		if fg.waiters > 1 || c.cur != nil && c.cur.waiters > 0 {
			c.pace = paceConcurrent
		}
		fg.err, fg.done = err, true
		c.recycle(fg)
		c.flushing = false
		c.cond.Broadcast()
	}
	return g.err
}

// enqueue adds a frame to the current group without waiting for it to be
// durable: the next commit's flush, or close, writes it. It is for frames
// whose loss in a crash is harmless, so that they cost no fsync of their own.
func (c *groupCommitter) enqueue(add func(g *commitGroup)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	add(c.current())
	return nil
}

// added wakes a lingering leader once g, the group it will flush, has
// enough commits waiting to share a fsync well. Called with mu held.
func (c *groupCommitter) added(g *commitGroup) {
	if c.full != nil && g == c.cur && g.waiters >= commitLingerCommits {
		close(c.full)
		c.full = nil
	}
}

// idle runs f with no flush in progress and none starting until it returns.
func (c *groupCommitter) idle(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.cond.Wait()
	}
	f()
}

// writeOut writes what enqueue left behind without a sync: the frames are
// then in the page cache, which a crash of the process keeps (only a crash
// of the machine loses them). It waits for a flush in progress, and leaves
// a group a commit waits for to that commit's flush, which syncs it.
func (c *groupCommitter) writeOut() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.cond.Wait()
	}
	g := c.cur
	if c.closed || g == nil || g.n == 0 || g.waiters > 0 {
		return nil
	}
	c.flushing = true
	c.cur = nil
	c.mu.Unlock()
	err := c.flush(g)
	c.mu.Lock()
	g.err, g.done = err, true
	c.recycle(g)
	c.flushing = false
	c.cond.Broadcast()
	return err
}

// close waits for a flush in progress, flushes what enqueue left behind, and
// refuses later commits. It runs f (if not nil) while holding the lock, with
// no flush running.
func (c *groupCommitter) close(f func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.cond.Wait()
	}
	c.closed = true
	var err error
	if g := c.cur; g != nil && g.n > 0 {
		c.cur = nil
		g.sync = true
		err = c.flush(g)
		g.err, g.done = err, true
		c.cond.Broadcast()
	}
	if f != nil {
		f()
	}
	return err
}
