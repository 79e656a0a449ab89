package b2bua

import (
	"hash/maphash"
	"sync"
)

// callTable finds a call by either leg's dialog or by its ID. It is split
// into shards, each with its own lock, so that concurrent calls never
// contend on one global lock.
type callTable struct {
	seed   maphash.Seed
	shards [64]tableShard
}

// tableShard keeps one map per way to find a call, each keyed by no more
// than that way needs: a held call's three entries are map slots of 24, 40
// and 24 bytes rather than three of one 48-byte key-and-value shape. The
// keys are the call's own strings (its ID, its dialogs' Call-IDs and the
// caller's tag), never copies.
type tableShard struct {
	mu   sync.RWMutex
	byID map[string]*Call    // the call's ID
	byA  map[callerKey]*Call // the caller's dialog
	byB  map[string]*Call    // an attempt's dialog: its Call-ID is ours, unique
}

// callerKey is the caller's dialog: its Call-ID is only unique together
// with its From tag.
type callerKey struct{ callID, tag string }

// tableKey is one way to find a call, as the table is asked: it picks the
// map and its key, and is never stored. A struct rather than a
// concatenated string: a lookup then allocates nothing.
type tableKey struct {
	kind   keyKind
	callID string
	tag    string
}

// keyKind is which of the three ways a tableKey finds a call by.
type keyKind uint8

const (
	byCallerDialog keyKind = iota
	byAttemptDialog
	byCallID
)

func newCallTable() *callTable {
	t := &callTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		s := &t.shards[i]
		s.byID = make(map[string]*Call)
		s.byA = make(map[callerKey]*Call)
		s.byB = make(map[string]*Call)
	}
	return t
}

func (t *callTable) shard(key tableKey) *tableShard {
	return &t.shards[maphash.String(t.seed, key.callID)%uint64(len(t.shards))]
}

func (t *callTable) put(key tableKey, c *Call) {
	s := t.shard(key)
	s.mu.Lock()
	switch key.kind {
	case byCallerDialog:
		s.byA[callerKey{key.callID, key.tag}] = c
	case byAttemptDialog:
		s.byB[key.callID] = c
	case byCallID:
		s.byID[key.callID] = c
	}
	s.mu.Unlock()
}

func (t *callTable) get(key tableKey) *Call {
	s := t.shard(key)
	s.mu.RLock()
	var c *Call
	switch key.kind {
	case byCallerDialog:
		c = s.byA[callerKey{key.callID, key.tag}]
	case byAttemptDialog:
		c = s.byB[key.callID]
	case byCallID:
		c = s.byID[key.callID]
	}
	s.mu.RUnlock()
	return c
}

// del drops key when it still finds c: a key that has found another call
// since stays.
func (t *callTable) del(key tableKey, c *Call) {
	s := t.shard(key)
	s.mu.Lock()
	switch key.kind {
	case byCallerDialog:
		k := callerKey{key.callID, key.tag}
		if s.byA[k] == c {
			delete(s.byA, k)
		}
	case byAttemptDialog:
		if s.byB[key.callID] == c {
			delete(s.byB, key.callID)
		}
	case byCallID:
		if s.byID[key.callID] == c {
			delete(s.byID, key.callID)
		}
	}
	s.mu.Unlock()
}

// Keys of the three ways to find a call. The caller's Call-ID is only unique
// together with its From tag; our B-leg Call-IDs are ours and unique.
func keyA(callID, fromTag string) tableKey { return tableKey{byCallerDialog, callID, fromTag} }
func keyB(callID string) tableKey          { return tableKey{byAttemptDialog, callID, ""} }
func keyID(id string) tableKey             { return tableKey{byCallID, id, ""} }

func (t *callTable) add(c *Call) {
	t.put(keyID(c.ID), c)
	t.put(keyA(c.a.d.callID, c.a.d.remoteTag), c)
}

// remove drops every key of a call, the current attempt's included.
// Earlier attempts' keys were dropped when they ended.
func (t *callTable) remove(c *Call) {
	t.removeButCaller(c)
	t.del(keyA(c.a.d.callID, c.a.d.remoteTag), c)
}

// removeButCaller drops every key of a call but the caller's dialog, which
// an ended call keeps until the caller's ACK our BYE waits for is in
// (callerAck); awaitAck drops it then.
func (t *callTable) removeButCaller(c *Call) {
	t.del(keyID(c.ID), c)
	c.mu.Lock()
	b := c.b
	c.mu.Unlock()
	if b != nil {
		t.del(keyB(b.d.callID), c)
	}
}

// each calls f for every call (once per call), for snapshots and shutdown.
func (t *callTable) each(f func(*Call)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		calls := make([]*Call, 0, len(s.byID))
		for _, c := range s.byID {
			calls = append(calls, c)
		}
		s.mu.RUnlock()
		for _, c := range calls {
			f(c)
		}
	}
}
