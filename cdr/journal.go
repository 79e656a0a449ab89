package cdr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
// happens. When the log outgrows the live set it is compacted (rewritten
// with one entry per connected call, then renamed over the old one).
//
// The live set keeps each call's last entry as written, not the call: a
// compaction copies bytes under the lock every append waits for, where
// encoding thousands of records again held it for milliseconds.
type Journal struct {
	path string
	log  *slog.Logger
	gc   *groupCommitter

	mu      sync.Mutex        // guards live and seq; taken inside gc's lock
	live    map[string][]byte // call ID → its last setup or connected entry
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
	pendingAt map[string]int // call ID → its index in pending

	f        *os.File // used by flushes only
	size     int64
	reserved int64 // the log's blocks are allocated up to here
	// compactAt is the size at which a flush compacts the log next; a
	// failed compaction (a full disk) moves it on rather than retrying it
	// at every flush.
	compactAt int64
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
		live: map[string][]byte{}, setups: make(chan struct{}, 1), pendingAt: map[string]int{}}
	j.gc = newGroupCommitter(j.flush)
	data, err := os.ReadFile(j.path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("cdr journal: %w", err)
	}
	var lastAlive int64
	goodEnd, damaged := scanFrames(data, func(f frame) {
		lastAlive = max(lastAlive, f.unixNS)
		j.apply(f.payload)
	})
	if damaged > 0 {
		j.log.Warn("skipped damaged bytes in the connected-calls journal", "bytes", damaged)
	}
	for id, p := range j.live {
		var call journalCall
		if err := json.Unmarshal(p[1:], &call); err != nil { // apply decoded it once: cannot fail
			return nil, fmt.Errorf("cdr journal: %w", err)
		}
		if call.DisconnectReason != ReasonCrashed {
			call.Record = crashed(call.Record, time.Unix(0, lastAlive))
			if j.live[id], err = entry(entryConnected, call); err != nil {
				return nil, err
			}
		}
		j.orphans = append(j.orphans, Orphan{Record: call.Record, Accounting: call.Accounting})
	}
	// Rewrite now: the orphans' disconnect time is fixed in their entries,
	// so later touches by this process cannot move it.
	if err := j.compact(); err != nil {
		// A full disk must not keep Tollgate from starting: go on with the
		// log as it is, which needs no new space.
		j.log.Warn("connected-calls journal not compacted at start; appending to it as it is", "error", err)
		if err := j.reopen(int64(goodEnd)); err != nil {
			return nil, err
		}
	}
	j.compactAt = nextCompaction(j.size)
	return j, nil
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
	var buf []byte
	for _, o := range j.orphans {
		payload, err := entry(entryConnected, journalCall{Record: o.Record, Accounting: o.Accounting})
		if err != nil {
			return err
		}
		j.seq++
		buf = appendFrame(buf, j.seq, time.Now().UnixNano(), payload)
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := f.WriteAt(buf, goodEnd); err != nil {
		f.Truncate(goodEnd)
		j.log.Warn("crashed calls' end times not fixed in the journal", "error", err)
		return nil
	}
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

// apply replays one entry into the live set.
func (j *Journal) apply(p []byte) {
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
		j.live[call.ID] = bytes.Clone(p) // p is the whole file's buffer
	case entryEnded:
		delete(j.live, string(p[1:]))
	}
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
func (j *Journal) movePending(g *commitGroup, superseding string) {
	j.pendingMu.Lock()
	pending := j.pending
	j.pending = nil
	clear(j.pendingAt)
	j.pendingMu.Unlock()
	for _, p := range pending {
		if p.call.ID == superseding {
			continue
		}
		payload, err := entry(entrySetup, p.call)
		if err != nil {
			j.log.Error("call in setup not journaled", "id", p.call.ID, "error", err)
			continue
		}
		j.mu.Lock()
		j.seq++
		g.buf = appendFrame(g.buf, j.seq, p.at, payload)
		g.n++
		j.live[p.call.ID] = payload
		j.mu.Unlock()
	}
}

// moveAllPending is movePending with no call superseding, for the
// committer's enqueue.
func (j *Journal) moveAllPending(g *commitGroup) { j.movePending(g, "") }

// Setup notes a call as it reaches the switch, so that a crash before it
// ends still leaves its one CDR. It costs no fsync: the entry is handed to
// the kernel by Run at once, and a process crash keeps the page cache (a
// machine crash loses the calls set up since the last fsync — a Connected,
// or Touch).
func (j *Journal) Setup(rec Record, accounting json.RawMessage) error {
	if err := validate(rec); err != nil {
		return err
	}
	p := pendingSetup{at: time.Now().UnixNano(), call: journalCall{Record: rec, Accounting: accounting}}
	j.pendingMu.Lock()
	if i, ok := j.pendingAt[rec.ID]; ok {
		j.pending[i] = p
	} else {
		j.pendingAt[rec.ID] = len(j.pending)
		j.pending = append(j.pending, p)
	}
	j.pendingMu.Unlock()
	select {
	case j.setups <- struct{}{}:
	default:
	}
	return nil
}

// Connected durably notes that a call is connected. rec is its CDR as known
// at connect time (ID, numbers, times); accounting, the sessions that get a
// RADIUS Stop should the process die before the call ends.
func (j *Journal) Connected(rec Record, accounting json.RawMessage) error {
	if err := validate(rec); err != nil {
		return err
	}
	payload, err := entry(entryConnected, journalCall{Record: rec, Accounting: accounting})
	if err != nil {
		return err
	}
	return j.append(rec.ID, payload, func() { j.live[rec.ID] = payload })
}

// entry is a journal entry of the given kind holding call: the kind's byte,
// then the call as JSON without its zero fields (it runs two or three times
// per call, on the switch's hot path: written by hand, recordjson.go).
func entry(kind byte, call journalCall) ([]byte, error) {
	buf := encodeBuffers.Get().(*[]byte)
	b, exact := appendRecordJSON(append((*buf)[:0], kind), &call.Record, formLive, call.Accounting)
	putEncodeBuffer(buf, b)
	if exact {
		return bytes.Clone(b), nil // the live set keeps it: its own, of its size
	}
	b, err := json.Marshal(journalEntry{journalRecord(call.Record), call.Accounting})
	if err != nil {
		return nil, fmt.Errorf("cdr journal: %w", err)
	}
	return append([]byte{kind}, b...), nil
}

// Ended notes that a call is over (its CDR is in the spool). It does not
// wait for an fsync of its own: the next Connected or Touch makes it
// durable. Lost in a crash, it only makes recovery write the call's record
// again under the same ID, which the PostgreSQL writer ignores (and the CSV
// files skip) as a duplicate; the spool's record was written first and wins.
func (j *Journal) Ended(id string) error {
	now := time.Now().UnixNano()
	payload := append([]byte{entryEnded}, id...)
	err := j.gc.enqueue(func(g *commitGroup) {
		j.movePending(g, id)
		j.mu.Lock()
		j.seq++
		g.buf = appendFrame(g.buf, j.seq, now, payload)
		g.n++
		delete(j.live, id)
		j.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("cdr journal: %w", err)
	}
	return nil
}

// Touch records that the process is alive now; call it every few seconds.
// The interval bounds how much call time a crash can leave unbilled.
func (j *Journal) Touch() error {
	return j.append("", []byte{entryTouch}, func() {})
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

// Connections returns how many calls the journal holds as connected.
func (j *Journal) Connections() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.live)
}

// append commits payload, the entry of call id ("" for none), after the
// setup entries still pending except id's own, which payload supersedes.
func (j *Journal) append(id string, payload []byte, update func()) error {
	now := time.Now().UnixNano()
	err := j.gc.commit(func(g *commitGroup) {
		j.movePending(g, id)
		j.mu.Lock()
		j.seq++
		g.buf = appendFrame(g.buf, j.seq, now, payload)
		g.n++
		update()
		j.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("cdr journal: %w", err)
	}
	return nil
}

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
	n := len(j.live)
	j.mu.Unlock()
	if j.size > j.compactAt && j.size > int64(n)*4096 {
		if err := j.compact(); err != nil {
			// The old log is intact and still appended to: keep going.
			j.log.Error("cannot compact the connected-calls journal", "err", err)
		}
		j.compactAt = nextCompaction(j.size)
	}
	return nil
}

// nextCompaction is the log size at which the next compaction is due, for
// a log of size bytes just compacted (or opened).
func nextCompaction(size int64) int64 { return max(journalCompactMin, journalGrowth*size) }

// compact writes the live set to a new log and renames it over the old one.
// Entries appended concurrently land in the new log after the snapshot; a
// connected call twice or an end without its start replays harmlessly.
func (j *Journal) compact() error {
	j.mu.Lock()
	var buf []byte
	now := time.Now().UnixNano()
	size := frameHeader + 1 // the touch
	for _, payload := range j.live {
		size += frameHeader + len(payload)
	}
	buf = make([]byte, 0, size)
	for _, payload := range j.live {
		j.seq++
		buf = appendFrame(buf, j.seq, now, payload)
	}
	j.seq++
	buf = appendFrame(buf, j.seq, time.Now().UnixNano(), []byte{entryTouch})
	j.mu.Unlock()

	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o640)
	if err != nil {
		return j.compactError(err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
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
	j.f, j.size, j.reserved = f, int64(len(buf)), 0
	j.reserve()
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return j.compactError(err)
	}
	return nil
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
