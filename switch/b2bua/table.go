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

type tableShard struct {
	mu sync.RWMutex
	m  map[tableKey]*Call
}

// tableKey is one way to find a call. A struct rather than a concatenated
// string: a lookup then allocates nothing.
type tableKey struct {
	kind   byte // 'a' caller's dialog, 'b' an attempt's dialog, 'i' the call's ID
	callID string
	tag    string
}

func newCallTable() *callTable {
	t := &callTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[tableKey]*Call)
	}
	return t
}

func (t *callTable) shard(key tableKey) *tableShard {
	return &t.shards[maphash.String(t.seed, key.callID)%uint64(len(t.shards))]
}

func (t *callTable) put(key tableKey, c *Call) {
	s := t.shard(key)
	s.mu.Lock()
	s.m[key] = c
	s.mu.Unlock()
}

func (t *callTable) get(key tableKey) *Call {
	s := t.shard(key)
	s.mu.RLock()
	c := s.m[key]
	s.mu.RUnlock()
	return c
}

func (t *callTable) del(key tableKey, c *Call) {
	s := t.shard(key)
	s.mu.Lock()
	if s.m[key] == c {
		delete(s.m, key)
	}
	s.mu.Unlock()
}

// Keys of the three ways to find a call. The caller's Call-ID is only unique
// together with its From tag; our B-leg Call-IDs are ours and unique.
func keyA(callID, fromTag string) tableKey { return tableKey{'a', callID, fromTag} }
func keyB(callID string) tableKey          { return tableKey{'b', callID, ""} }
func keyID(id string) tableKey             { return tableKey{'i', id, ""} }

func (t *callTable) add(c *Call) {
	t.put(keyID(c.ID), c)
	t.put(keyA(c.a.d.callID, c.a.d.remoteTag), c)
}

// remove drops every key of a call, the current attempt's included.
// Earlier attempts' keys were dropped when they ended.
func (t *callTable) remove(c *Call) {
	t.del(keyID(c.ID), c)
	t.del(keyA(c.a.d.callID, c.a.d.remoteTag), c)
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
		var calls []*Call
		for k, c := range s.m {
			if k.kind == 'i' {
				calls = append(calls, c)
			}
		}
		s.mu.RUnlock()
		for _, c := range calls {
			f(c)
		}
	}
}
