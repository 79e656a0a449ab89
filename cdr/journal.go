package cdr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/goccy/go-json"
)

// Journal remembers the calls that are up right now, in setup or
// connected, so that when Tollgate dies mid-call the next start can still
// write their CDRs — with DisconnectReason ReasonCrashed and the last time
// the process was known alive as their disconnect time — and send their
// RADIUS Stops: billing never misses a call that reached the switch.
//
// It is an append-only log of framed entries (setup and connected: the
// call's record; ended: its ID; touch: nothing) fsync'd by group commit
// (setup entries are only written, not synced), because each event
// is small and a whole-file rewrite per connect would cost O(connected calls)
// per call. Every frame carries its write time, so the newest frame is the
// last known alive time; Touch adds one every few seconds when nothing else
// happens. When the log outgrows the live set it is compacted: rewritten
// with each call's last entry, then renamed over the old one.
//
// The live set keeps no entry in memory, only each call's key and the
// sequence number of its last entry in the log: a held call costs it a few
// dozen bytes, not the kilobyte of its encoded record. Compaction copies
// those entries from the log itself, in a goroutine of its own beside the
// flushes; only the swap of the files (the entries appended meanwhile
// copied over, two fsyncs) holds the flushes back. Keeping the calls
// decoded and encoding them at compaction, inside the flush, was tried and
// tipped 2,000 calls/s into retransmissions (docs/benchmarks.md).
type Journal struct {
	path string
	log  *slog.Logger
	gc   *groupCommitter

	mu sync.Mutex // guards live; taken inside gc's lock
	// live maps each call up (in setup or connected) to the sequence number
	// of its last entry in the log. A flush updates it once its group is
	// written, so that it only ever names entries the log holds.
	live map[callKey]uint64
	// seq numbers the frames; assigned under gc's lock (in the functions
	// commit and enqueue run, and in the compactor's swap, run by idle).
	seq     uint64
	orphans []Orphan
	// setups signals Run that Setup left entries to write out.
	setups chan struct{}
	// pending are Setup's entries not yet in a commit group. Setup runs on
	// every INVITE and must not queue behind the committer's lock, which
	// the connected and ended entries of every other call contend for;
	// Run moves them into a group in batches, and every other entry moves
	// them first, so that a call's setup entry always precedes its later
	// ones in the log. A call noted again before its entry moved (a call
	// sets up at the INVITE and again at each attempt) replaces it, and a
	// call's later entry (connected, ended) drops it: only the newest is
	// encoded and written, which spares most calls one encoding.
	pendingMu sync.Mutex
	pending   []pendingSetup
	// pendingSpare is the emptied array of the last entries moved, for the
	// next ones (movePending runs one at a time, under the committer's lock).
	pendingSpare []pendingSetup
	pendingAt    map[string]int // call ID → its index in pending

	// Used by flushes, and by the compactor's swap with no flush running.
	f        *os.File
	size     int64
	reserved int64 // the log's blocks are allocated up to here
	// compactAt is the size at which the log is compacted next; a failed
	// compaction (a full disk) moves it on rather than retrying it at
	// every flush.
	compactAt int64

	compactNow    chan struct{} // a flush found the log due for compaction
	stop          chan struct{} // Close ends the compactor
	compactorDone chan struct{}
}

const (
	journalName       = "connected.log"
	journalCompactMin = 1 << 20 // never compact a log smaller than this
	// journalGrowth is how much the log grows past its compacted size
	// before the next compaction: each compaction rewrites the live set,
	// so the rewriting costs 1/(journalGrowth-1) of the bytes appended.
	journalGrowth = 4

	entryConnected = 'C'
	entryEnded     = 'E'
	entryTouch     = 'T'
	entrySetup     = 'S'
)

// journalCall is a call's entry: its record as known when noted, and the
// accounting sessions (opaque here, the switch's) that get a RADIUS Stop if
// the process dies before the call ends. Its JSON is the record's with one
// field more, so entries written before that field read back as they were.
type journalCall struct {
	Record
	Accounting json.RawMessage `json:"accounting,omitempty"`
}

// journalEntry is how a journalCall is written: the record's fields that
// are still zero (a live call has no disconnect time, duration, RTP figures
// and usually little RADIUS result yet) are left out, which halves the bytes
// the live set keeps per held call. Reading an entry back into a
// journalCall gives the same record: a field left out decodes as its zero.
type journalEntry struct {
	journalRecord
	Accounting json.RawMessage `json:"accounting,omitempty"`
}

// journalRecord is Record field for field, so that one converts to the
// other at no cost (a field added to Record breaks the conversion until it
// is added here), each field marked omitzero.
type journalRecord struct {
	ID               string        `json:"id,omitzero"`
	ConfID           string        `json:"conf_id,omitzero"`
	CallIDA          string        `json:"call_id_a,omitzero"`
	CallIDB          string        `json:"call_id_b,omitzero"`
	CallerNumber     string        `json:"caller_number,omitzero"`
	CallerName       string        `json:"caller_name,omitzero"`
	CalledReceived   string        `json:"called_received,omitzero"`
	CalledSent       string        `json:"called_sent,omitzero"`
	SourceIP         string        `json:"source_ip,omitzero"`
	SourcePort       int           `json:"source_port,omitzero"`
	Account          string        `json:"account,omitzero"`
	Route            string        `json:"route,omitzero"`
	Gateway          string        `json:"gateway,omitzero"`
	Attempts         []Attempt     `json:"attempts,omitzero"`
	SetupTime        time.Time     `json:"setup_time,omitzero"`
	RingingTime      time.Time     `json:"ringing_time,omitzero"`
	ConnectTime      time.Time     `json:"connect_time,omitzero"`
	DisconnectTime   time.Time     `json:"disconnect_time,omitzero"`
	Duration         time.Duration `json:"duration,omitzero"`
	BilledSeconds    int           `json:"billed_seconds,omitzero"`
	PostDialDelay    time.Duration `json:"post_dial_delay,omitzero"`
	SIPCode          int           `json:"sip_code,omitzero"`
	SIPReason        string        `json:"sip_reason,omitzero"`
	Q850Cause        int           `json:"q850_cause,omitzero"`
	ReleasedBy       string        `json:"released_by,omitzero"`
	DisconnectReason string        `json:"disconnect_reason,omitzero"`
	CreditGranted    time.Duration `json:"credit_granted,omitzero"`
	CodecA           string        `json:"codec_a,omitzero"`
	CodecB           string        `json:"codec_b,omitzero"`
	MediaRelay       string        `json:"media_relay,omitzero"`
	RTPAtoB          RTPStats      `json:"rtp_a_to_b,omitzero"`
	RTPBtoA          RTPStats      `json:"rtp_b_to_a,omitzero"`
	UserAgentA       string        `json:"user_agent_a,omitzero"`
	UserAgentB       string        `json:"user_agent_b,omitzero"`
	RADIUS           RADIUS        `json:"radius,omitzero"`
	Node             string        `json:"node,omitzero"`
}

// Orphan is a call the previous process left in the journal: its record,
// completed with ReasonCrashed, and the accounting sessions noted with it.
type Orphan struct {
	Record     Record
	Accounting json.RawMessage
}

// callKey is a call's record ID (a UUID) as the live set keys it: 16 bytes
// where the string would cost a 48-byte allocation of its own.
type callKey [16]byte

// keyOf parses a record ID; false when it is not a UUID.
func keyOf[T string | []byte](id T) (callKey, bool) {
	var k callKey
	if len(id) != 36 {
		return k, false
	}
	n := 0
	for i := 0; i < len(id); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if id[i] != '-' {
				return k, false
			}
			continue
		}
		v, ok := hexValue(id[i])
		if !ok {
			return k, false
		}
		k[n/2] |= v << (4 * (1 - n%2))
		n++
	}
	return k, true
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// entryKey is the call a setup or connected entry is about. Every encoder
// that ever wrote one put the ID first, which spares a decoding; anything
// else is decoded.
func entryKey(p []byte) (callKey, bool) {
	const prefix = `{"id":"`
	if b := p[1:]; len(b) > len(prefix)+36 && string(b[:len(prefix)]) == prefix && b[len(prefix)+36] == '"' {
		return keyOf(b[len(prefix) : len(prefix)+36])
	}
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(p[1:], &v) != nil {
		return callKey{}, false
	}
	return keyOf(v.ID)
}

// OpenJournal opens the journal in dir. Calls found connected in it were
// left over by a process that died: their CDRs are completed now and
// returned by Recover.
func OpenJournal(dir string, logger *slog.Logger) (*Journal, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr journal: %w", err)
	}
	j := &Journal{path: filepath.Join(dir, journalName), log: logger.With("component", "cdr-journal"),
		live: map[callKey]uint64{}, setups: make(chan struct{}, 1), pendingAt: map[string]int{},
		compactNow: make(chan struct{}, 1), stop: make(chan struct{}), compactorDone: make(chan struct{})}
	j.gc = newGroupCommitter(j.flush)
	data, err := os.ReadFile(j.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("cdr journal: %w", err)
	}
	var lastAlive int64
	left := map[callKey]leftCall{}
	goodEnd, damaged := scanFrames(data, func(f frame) {
		lastAlive = max(lastAlive, f.unixNS)
		j.seq = max(j.seq, f.seq)
		j.replay(left, f)
	})
	if damaged > 0 {
		j.log.Warn("skipped damaged bytes in the connected-calls journal", "bytes", damaged)
	}
	for key, c := range left {
		if c.call.DisconnectReason != ReasonCrashed {
			c.call.Record = crashed(c.call.Record, time.Unix(0, lastAlive))
		}
		j.orphans = append(j.orphans, Orphan{Record: c.call.Record, Accounting: c.call.Accounting})
		j.live[key] = c.seq
	}
	// Rewrite now: the orphans' disconnect time is fixed in their entries,
	// so later touches by this process cannot move it.
	if err := j.rewriteOrphans(); err != nil {
		// A full disk must not keep Tollgate from starting: go on with the
		// log as it is, which needs no new space.
		j.log.Warn("connected-calls journal not compacted at start; appending to it as it is", "error", err)
		if err := j.reopen(int64(goodEnd)); err != nil {
			return nil, err
		}
	}
	j.compactAt = nextCompaction(j.size)
	go j.compactor()
	return j, nil
}

// leftCall is a call the log holds as up, while it is read at start.
type leftCall struct {
	seq  uint64
	call journalCall
}

// replay applies one entry of the log being read at start to left.
func (j *Journal) replay(left map[callKey]leftCall, f frame) {
	p := f.payload
	if len(p) == 0 {
		return
	}
	switch p[0] {
	case entryConnected, entrySetup:
		var call journalCall
		if err := json.Unmarshal(p[1:], &call); err != nil {
			j.log.Error("undecodable call entry in the journal", "err", err)
			return
		}
		key, ok := keyOf(call.ID)
		if !ok {
			j.log.Error("call entry without a UUID in the journal", "id", call.ID)
			return
		}
		left[key] = leftCall{seq: f.seq, call: call}
	case entryEnded:
		if key, ok := keyOf(p[1:]); ok {
			delete(left, key)
		}
	}
}

// orphanFrames are the orphans' entries, each with its disconnect time
// fixed, as frames numbered on from j.seq; it notes them in the live set
// once keep says they are written.
func (j *Journal) orphanFrames() (buf []byte, keep func(), err error) {
	now := time.Now().UnixNano()
	seqs := make([]uint64, len(j.orphans))
	for i := range j.orphans {
		o := &j.orphans[i]
		payload, err := appendEntry(nil, entryConnected, &o.Record, o.Accounting)
		if err != nil {
			return nil, nil, err
		}
		j.seq++
		seqs[i] = j.seq
		buf = appendFrame(buf, j.seq, now, payload)
	}
	return buf, func() {
		for i, o := range j.orphans {
			key, _ := keyOf(o.Record.ID) // replay kept only calls with a UUID
			j.live[key] = seqs[i]
		}
	}, nil
}

// rewriteOrphans replaces the log, at start, by one holding the orphans'
// entries and a touch.
func (j *Journal) rewriteOrphans() error {
	buf, keep, err := j.orphanFrames()
	if err != nil {
		return err
	}
	j.seq++
	buf = appendFrame(buf, j.seq, time.Now().UnixNano(), []byte{entryTouch})
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o640)
	if err != nil {
		return j.compactError(err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = syscall.Fdatasync(int(f.Fd()))
	}
	if err := j.install(f, int64(len(buf)), err); err != nil {
		return err
	}
	keep()
	return nil
}

// install renames the new log f (of size bytes), made durable, over the
// old one and appends to it from now on; with an error from making it
// (failed), it removes it instead and returns the error.
func (j *Journal) install(f *os.File, size int64, failed error) error {
	tmp := f.Name()
	err := failed
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		// A half-written copy would only hold on to space the disk lacks.
		f.Close()
		os.Remove(tmp)
		return j.compactError(err)
	}
	// Opened again under its own name, so that its errors name the journal
	// and not the temporary file.
	if named, err := os.OpenFile(j.path, os.O_RDWR, 0); err == nil {
		f.Close()
		f = named
	}
	// The new file is the journal now, even if making the rename durable
	// fails below: appending to the old, unlinked one would lose entries.
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.size, j.reserved = f, size, 0
	j.reserve()
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return j.compactError(err)
	}
	return nil
}

// reopen continues the existing log, cut after its last whole entry, and
// fixes the orphans' disconnect times in it as compaction would have (if
// even that small write fails, recovery of this process's own crash would
// end them later than it should, and that is all).
func (j *Journal) reopen(goodEnd int64) error {
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("cdr journal: %w", err)
	}
	// Only a torn tail is cut: a truncate also frees the blocks the last
	// process kept allocated past the end, which are what this write needs.
	if st, err := f.Stat(); err != nil || st.Size() > goodEnd {
		if err := f.Truncate(goodEnd); err != nil {
			f.Close()
			return fmt.Errorf("cdr journal: %w", err)
		}
	}
	j.f, j.size, j.reserved = f, goodEnd, 0
	buf, keep, err := j.orphanFrames()
	if err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := f.WriteAt(buf, goodEnd); err != nil {
		f.Truncate(goodEnd)
		j.log.Warn("crashed calls' end times not fixed in the journal", "error", err)
		return nil
	}
	keep()
	j.size += int64(len(buf))
	j.reserve()
	return nil
}

// crashed completes the CDR of a call that was up (in setup or connected)
// when the process died, ending it at the last time the process was known
// alive.
func crashed(rec Record, lastAlive time.Time) Record {
	start := rec.ConnectTime
	if start.IsZero() {
		start = rec.SetupTime
	}
	end := lastAlive.Truncate(time.Millisecond).UTC()
	if end.Before(start) {
		end = start
	}
	rec.DisconnectTime = end
	rec.DisconnectReason = ReasonCrashed
	rec.ReleasedBy = ReleasedBySwitch
	rec.Duration, rec.BilledSeconds = 0, 0
	if !rec.ConnectTime.IsZero() {
		rec.Duration = end.Sub(rec.ConnectTime)
		rec.BilledSeconds = int((rec.Duration + time.Second - 1) / time.Second)
	}
	return rec
}

// NodeLost completes the CDR of a call that was connected on a cluster node
// that died, ending it at the node's last heartbeat: what a surviving node
// writes for it.
func NodeLost(rec Record, lastAlive time.Time) Record {
	rec = crashed(rec, lastAlive)
	rec.DisconnectReason = ReasonNodeLost
	return rec
}

// Recover returns the calls that were up (in setup or connected) when the
// previous process died, their CDRs completed with ReasonCrashed. They stay
// in the journal until Ended is called for each: spool them first (and
// queue their RADIUS Stops), then call Ended.
func (j *Journal) Recover() []Orphan {
	return append([]Orphan(nil), j.orphans...)
}

// pendingSetup is one of Setup's entries waiting for a commit group.
type pendingSetup struct {
	at   int64
	call journalCall
}

// movePending appends Setup's waiting entries to g, in the order Setup was
// first called for each call, except the one of the call superseding
// (whose newer entry follows; "" for none). Called with the committer's
// lock held (from a commit or enqueue).
//
// With none waiting it leaves the arrays as they are: most calls to it
// (every Connected and Ended) find none, and swapping then dropped the
// empty array, so that Setup grew a new one from nothing, 900 bytes an
// entry (the switch at 3,000 calls/s: ~2.7 kB allocated per call).
func (j *Journal) movePending(g *commitGroup, superseding string) {
	j.pendingMu.Lock()
	if len(j.pending) == 0 {
		j.pendingMu.Unlock()
		return
	}
	pending := j.pending
	j.pending, j.pendingSpare = j.pendingSpare, nil
	clear(j.pendingAt)
	j.pendingMu.Unlock()
	defer func() {
		clear(pending) // their records' strings are not to be kept alive
		j.pendingMu.Lock()
		j.pendingSpare = pending[:0]
		j.pendingMu.Unlock()
	}()
	buf := encodeBuffers.Get().(*[]byte)
	payload := (*buf)[:0]
	for i := range pending {
		p := &pending[i]
		if p.call.ID == superseding {
			continue
		}
		var err error
		if payload, err = appendEntry(payload[:0], entrySetup, &p.call.Record, p.call.Accounting); err != nil {
			j.log.Error("call in setup not journaled", "id", p.call.ID, "error", err)
			continue
		}
		j.seq++
		g.buf = appendFrame(g.buf, j.seq, p.at, payload)
		g.n++
		g.noteCall(p.call.ID, j.seq, entrySetup)
	}
	putEncodeBuffer(buf, payload)
}

// moveAllPending is movePending with no call superseding, for the
// committer's enqueue.
func (j *Journal) moveAllPending(g *commitGroup) { j.movePending(g, "") }

// Setup notes a call as it reaches the switch, so that a crash before it
// ends still leaves its one CDR. It costs no fsync: the entry is handed to
// the kernel by Run at once, and a process crash keeps the page cache (a
// machine crash loses the calls set up since the last fsync — a Connected,
// or Touch).
//
// rec is copied, straight into its place among the pending entries: the
// switch calls Setup on a goroutine started per SIP request, whose stack
// starts small, and each copy of the 800-byte record in a frame on the way
// made that stack grow, copying it whole, more often.
func (j *Journal) Setup(rec *Record, accounting json.RawMessage) error {
	if err := validate(rec); err != nil {
		return err
	}
	at := time.Now().UnixNano()
	j.pendingMu.Lock()
	p := j.pendingSlot(rec.ID)
	p.at, p.call.Accounting = at, accounting
	p.call.Record = *rec // alone: in a tuple assignment, the copy goes through the stack
	j.pendingMu.Unlock()
	select {
	case j.setups <- struct{}{}:
	default:
	}
	return nil
}

// pendingSlot is the place of call id's entry among the pending ones: its
// last one's, which the new one replaces, or a new one at the end. Called
// with pendingMu held.
func (j *Journal) pendingSlot(id string) *pendingSetup {
	i, ok := j.pendingAt[id]
	if !ok {
		i = len(j.pending)
		j.pendingAt[id] = i
		j.pending = slices.Grow(j.pending, 1)[:i+1]
	}
	return &j.pending[i]
}

// Connected durably notes that a call is connected. rec is its CDR as known
// at connect time (ID, numbers, times), encoded before Connected returns
// (passed by reference for the reason Setup's is); accounting, the sessions
// that get a RADIUS Stop should the process die before the call ends.
func (j *Journal) Connected(rec *Record, accounting json.RawMessage) error {
	if err := validate(rec); err != nil {
		return err
	}
	buf := encodeBuffers.Get().(*[]byte)
	payload, err := appendEntry((*buf)[:0], entryConnected, rec, accounting)
	defer putEncodeBuffer(buf, payload)
	if err != nil {
		return err
	}
	return j.append(rec.ID, entryConnected, payload)
}

// appendEntry appends to dst a journal entry of the given kind holding a
// call's record and accounting sessions: the kind's byte, then the call as
// JSON without its zero fields (it runs two or three times per call, on
// the switch's hot path: written by hand, recordjson.go).
func appendEntry(dst []byte, kind byte, rec *Record, accounting json.RawMessage) ([]byte, error) {
	b, exact := appendRecordJSON(append(dst, kind), rec, formLive, accounting)
	if exact {
		return b, nil
	}
	// On the heap: a journalEntry in this frame would cost every call's
	// stack its 800 bytes, for the rare record that comes here.
	js, err := json.Marshal(&journalEntry{journalRecord(*rec), accounting})
	if err != nil {
		return dst, fmt.Errorf("cdr journal: %w", err)
	}
	return append(append(dst, kind), js...), nil
}

// Ended notes that a call is over (its CDR is in the spool). It does not
// wait for an fsync of its own: the next Connected or Touch makes it
// durable. Lost in a crash, it only makes recovery write the call's record
// again under the same ID, which the PostgreSQL writer ignores (and the CSV
// files skip) as a duplicate; the spool's record was written first and wins.
func (j *Journal) Ended(id string) error {
	now := time.Now().UnixNano()
	err := j.gc.enqueue(func(g *commitGroup) {
		j.movePending(g, id)
		j.seq++
		var room [64]byte // an ID is 36 bytes: no allocation for its entry
		g.buf = appendFrame(g.buf, j.seq, now, append(append(room[:0], entryEnded), id...))
		g.n++
		g.noteCall(id, j.seq, entryEnded)
	})
	if err != nil {
		return fmt.Errorf("cdr journal: %w", err)
	}
	return nil
}

// Touch records that the process is alive now; call it every few seconds.
// The interval bounds how much call time a crash can leave unbilled.
func (j *Journal) Touch() error {
	return j.append("", entryTouch, []byte{entryTouch})
}

// Run writes out Setup's entries as they come and touches the journal
// every interval, until ctx is done.
func (j *Journal) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-j.setups:
			if err := j.gc.enqueue(j.moveAllPending); err != nil {
				j.log.Error("cannot write calls in setup to the journal", "err", err)
				continue
			}
			if err := j.gc.writeOut(); err != nil {
				j.log.Error("cannot write calls in setup to the journal", "err", err)
			}
		case <-t.C:
			if err := j.Touch(); err != nil {
				j.log.Error("cannot touch the connected-calls journal", "err", err)
			}
		}
	}
}

// Connections returns how many calls the journal holds as up (in setup or
// connected) in its log.
func (j *Journal) Connections() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.live)
}

// append commits payload, an entry of the given kind about call id ("" for
// none), after the setup entries still pending except id's own, which
// payload supersedes.
func (j *Journal) append(id string, kind byte, payload []byte) error {
	now := time.Now().UnixNano()
	err := j.gc.commit(func(g *commitGroup) {
		j.movePending(g, id)
		j.seq++
		g.buf = appendFrame(g.buf, j.seq, now, payload)
		g.n++
		if id != "" {
			g.noteCall(id, j.seq, kind)
		}
	})
	if err != nil {
		return fmt.Errorf("cdr journal: %w", err)
	}
	return nil
}

// flush writes a group to the log (and syncs it when a commit waits for
// it), then notes its calls' entries in the live set: only now are they in
// the log for a compaction to copy. It never compacts itself; it hands a
// due compaction to the compactor.
func (j *Journal) flush(g *commitGroup) error {
	_, err := j.f.WriteAt(g.buf, j.size)
	if err == nil && g.sync {
		err = syscall.Fdatasync(int(j.f.Fd()))
	}
	if err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.log.Error("cannot cut a failed write from the journal", "err", terr)
		}
		j.reserved = 0 // the truncate may have freed it
		return err
	}
	j.size += int64(len(g.buf))
	j.reserve()
	j.mu.Lock()
	for _, c := range g.calls {
		if c.kind == entryEnded {
			delete(j.live, c.key)
		} else {
			j.live[c.key] = c.seq
		}
	}
	n := len(j.live)
	j.mu.Unlock()
	if j.size > j.compactAt && j.size > int64(n)*4096 {
		select {
		case j.compactNow <- struct{}{}:
		default:
		}
	}
	return nil
}

// nextCompaction is the log size at which the next compaction is due, for
// a log of size bytes just compacted (or opened).
func nextCompaction(size int64) int64 { return max(journalCompactMin, journalGrowth*size) }

// compactor compacts the log whenever a flush finds it due, until Close.
func (j *Journal) compactor() {
	defer close(j.compactorDone)
	for {
		select {
		case <-j.stop:
			return
		case <-j.compactNow:
		}
		if err := j.compact(); err != nil {
			// The old log is intact and still appended to: keep going.
			j.log.Error("cannot compact the connected-calls journal", "err", err)
		}
	}
}

// errStopped: Close came during a compaction, which is given up.
var errStopped = errors.New("cdr journal: closing")

// compact writes the live calls' last entries, copied from the log, to a
// new log and renames it over the old one. Flushes go on meanwhile; the
// entries they append are copied over at the swap, with no flush running.
func (j *Journal) compact() error {
	var src *os.File
	var upTo int64
	j.gc.idle(func() {
		if j.f != nil && j.size > j.compactAt {
			src, upTo = j.f, j.size
		}
	})
	if src == nil {
		return nil
	}
	err := j.rewrite(src, upTo)
	if errors.Is(err, errStopped) {
		return nil
	}
	j.gc.idle(func() { j.compactAt = nextCompaction(j.size) })
	return err
}

// rewrite writes the live calls' entries among the first upTo bytes of
// src, the log, to a new file, made durable without holding up the
// flushes, then swaps it in (swap).
func (j *Journal) rewrite(src *os.File, upTo int64) error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o640)
	if err != nil {
		return j.compactError(err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var size int64
	err = readFrames(io.NewSectionReader(src, 0, upTo), func(raw []byte, fr frame) error {
		select {
		case <-j.stop:
			return errStopped
		default:
		}
		p := fr.payload
		if len(p) == 0 || p[0] != entryConnected && p[0] != entrySetup {
			return nil
		}
		key, ok := entryKey(p)
		if !ok {
			return nil
		}
		j.mu.Lock()
		last, up := j.live[key]
		j.mu.Unlock()
		if !up || last != fr.seq {
			return nil
		}
		size += int64(len(raw))
		_, err := w.Write(raw)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = syscall.Fdatasync(int(f.Fd()))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		if errors.Is(err, errStopped) {
			return err
		}
		return j.compactError(err)
	}
	j.gc.idle(func() { err = j.swap(src, upTo, f, size) })
	return err
}

// swap completes the new log f (size bytes so far) with what flushes
// appended to src after upTo and a touch, and installs it. It runs with no
// flush in progress: this is the compaction's only pause of the flushes.
func (j *Journal) swap(src *os.File, upTo int64, f *os.File, size int64) error {
	if j.f != src { // closed meanwhile
		f.Close()
		os.Remove(f.Name())
		return errStopped
	}
	tail := j.size - upTo
	_, err := io.Copy(io.NewOffsetWriter(f, size), io.NewSectionReader(src, upTo, tail))
	size += tail
	if err == nil {
		j.seq++
		touch := appendFrame(nil, j.seq, time.Now().UnixNano(), []byte{entryTouch})
		_, err = f.WriteAt(touch, size)
		size += int64(len(touch))
	}
	if err == nil {
		err = syscall.Fdatasync(int(f.Fd()))
	}
	return j.install(f, size, err)
}

// compactError names the journal, not the temporary copy, with the cause.
func (j *Journal) compactError(err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("compacting %s: %w", j.path, err)
}

// journalReserve is the disk space kept allocated past the log's end,
// without growing the file, so that calls are still journaled on a full
// disk (the CDR spool's, by default): a thousand calls or so.
const journalReserve = 1 << 20

// reserve allocates journalReserve bytes past the log's end once less than
// half of that is left; best effort, as on a full disk the log lives on
// what is already allocated.
func (j *Journal) reserve() {
	if j.reserved-j.size >= journalReserve/2 {
		return
	}
	if keepAllocated(j.f, j.size, journalReserve) == nil {
		j.reserved = j.size + journalReserve
	}
}

// keepAllocated allocates n bytes of f from off without changing its size
// (FALLOC_FL_KEEP_SIZE): writes there then need no free space.
func keepAllocated(f *os.File, off, n int64) error {
	const keepSize = 0x1
	return syscall.Fallocate(int(f.Fd()), keepSize, off, n)
}

// Close closes the journal; connected calls stay recorded in it.
func (j *Journal) Close() error {
	select {
	case <-j.stop:
	default:
		close(j.stop)
	}
	<-j.compactorDone
	var err error
	// Calls still in setup go into the last group, which close writes.
	perr := j.gc.enqueue(j.moveAllPending)
	ferr := j.gc.close(func() {
		if j.f != nil {
			err = j.f.Close()
			j.f = nil
		}
	})
	return errors.Join(perr, ferr, err)
}
