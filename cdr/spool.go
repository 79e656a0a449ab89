package cdr

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"
)

// Spool is the durable local queue every CDR lands in first: append-only
// segment files of CRC-framed records, fsync'd by group commit, consumed in
// batches by one reader (the PostgreSQL writer or the CSV files) that marks
// them shipped in a checkpoint file. Fully shipped segments are deleted.
//
// Append is safe for concurrent use. Next and Commit belong to the single
// consumer goroutine.
type Spool struct {
	dir string
	opt SpoolOptions
	log *slog.Logger
	gc  *groupCommitter

	// Guarded by gc.mu.
	nextSeq uint64

	// Only touched by the flush in progress (gc serialises flushes).
	active     *os.File
	activeSeg  *segment
	activeSize int64
	broken     bool // the active segment's tail is untrusted: start a new one

	mu       sync.Mutex // guards everything below
	segs     []*segment // oldest first; the last may be active
	depth    int64      // records not yet shipped
	groups   []unshipped
	bytes    int64
	ckpt     uint64 // sequence number of the last shipped record
	ckptFile *os.File

	// tail holds the records of the last durable groups for the consumer,
	// which takes them from memory rather than reading its own writes back.
	tail spoolTail

	notify chan struct{} // a group became durable
	closed chan struct{}

	// The reserve: a file holding disk space that the spool gives back to
	// itself when the disk fills, so that the records of calls already up
	// are still written while new calls are refused.
	reserveMu   sync.Mutex
	reservePath string
	state       atomic.Int32 // a SpoolState
	lastCheck   atomic.Int64 // unix ns of the last look at the disk

	// The consumer's read position; only the consumer goroutine uses these.
	rseg          *segment
	rfile         *os.File
	rpos          int64  // in rseg, of the next frame to read
	rbuf          []byte // bytes of rseg read from the file, from rbufAt on
	rbufAt        int64
	lastDelivered uint64
}

// SpoolOptions tune a spool; the zero value is sensible.
type SpoolOptions struct {
	// SegmentSize is the size after which a new segment file is started.
	// Default 4 MiB. Shipped segments are deleted whatever their size: the
	// one being written is cut short once all of it has shipped and it has
	// grown past reclaimSize, or at once while the disk is full.
	SegmentSize int64
	// Reserve is the disk space the spool holds back in a file of its own
	// and gives back to itself when the disk fills. Default two segments.
	Reserve int64
	Logger  *slog.Logger
}

// SpoolState says whether records can be made durable, and with what
// margin. The switch refuses new calls in any state but SpoolReady (unless
// configured otherwise): a call it could not bill is not switched.
type SpoolState int32

const (
	// SpoolReady: records are written and the reserve is in place.
	SpoolReady SpoolState = iota
	// SpoolOnReserve: the disk is full (or the reserve could not be made);
	// records are still written, into the space of the reserve.
	SpoolOnReserve
	// SpoolFull: a record could not be written at all.
	SpoolFull
)

func (st SpoolState) String() string {
	switch st {
	case SpoolReady:
		return "ready"
	case SpoolOnReserve:
		return "on reserve"
	case SpoolFull:
		return "full"
	}
	return fmt.Sprintf("SpoolState(%d)", int32(st))
}

// reclaimSize is how big a fully shipped active segment may grow before it
// is closed and deleted: beyond it, the space of shipped records is given
// back without waiting for the segment to reach SegmentSize.
const reclaimSize = 64 << 10

// checkInterval paces looks at the disk's free space, which also restore
// the reserve when no shipping freed space (an operator did).
const checkInterval = time.Second

// lowSpace is the free space below which the spool counts as on its
// reserve already: the next records would need it.
const lowSpace = 64 << 10

// SpoolStats are the spool's gauges, for metrics and alarms.
type SpoolStats struct {
	Depth           int64     // records appended and not yet shipped
	OldestUnshipped time.Time // append time of the oldest of them; zero when none
	Bytes           int64     // bytes of segment files on disk
	Segments        int
	State           SpoolState
	FreeBytes       int64 // available to the spool on its file system, reserve not counted
}

// Batch is a run of consecutive spooled records returned by Next; hand it
// back to Commit once every record in it is stored downstream.
type Batch struct {
	Records []Record
	lastSeq uint64
	frames  int64 // spooled frames consumed, including any that did not decode
}

type segment struct {
	first   uint64 // sequence number in the file name
	path    string
	size    int64  // durable bytes
	lastSeq uint64 // of the last valid frame; first-1 when none
	sealed  bool   // no more appends
}

// spoolTail is the records of the last durable groups, oldest first, each
// with where its frame lies: a consumer that keeps up takes them from
// memory, where reading them back from the file and decoding the JSON it
// had just written cost it 10-20 us of CPU a record. It is bounded: what a
// consumer further behind needs (PostgreSQL down for an hour) is not kept
// but read from the file, as after a restart.
type spoolTail struct {
	ring       []tailRecord // grown up to maxRecords as the consumer lags
	head, n    int
	bytes      int64 // of the frames of the records held
	maxRecords int
	maxBytes   int64
}

// The tail's bounds. The shipper takes a batch every 100 ms (its linger)
// plus the time the last batch took to store: at 4,000 calls/s, some
// hundreds of records. The count leaves room for a slow store, at ~800
// bytes a record plus its strings; the bytes bound a tail of rare huge
// records. A full tail takes no more records until the consumer has taken
// some: those it refused are read from the file.
const (
	tailRecords = 4096
	tailBytes   = 8 << 20
)

// tailRecord is one spooled record as a reader of its frame decodes it.
type tailRecord struct {
	seg      *segment
	off, end int64 // its frame's bytes in seg
	seq      uint64
	rec      Record
}

// push adds a copy of r after the others, unless the tail is full.
func (t *spoolTail) push(r *tailRecord) bool {
	size := r.end - r.off
	if t.n == t.maxRecords || t.bytes+size > t.maxBytes {
		return false
	}
	if t.n == len(t.ring) {
		grown := make([]tailRecord, min(max(2*len(t.ring), 64), t.maxRecords))
		copy(grown[copy(grown, t.ring[t.head:]):], t.ring[:t.head])
		t.ring, t.head = grown, 0
	}
	t.ring[(t.head+t.n)%len(t.ring)] = *r
	t.n++
	t.bytes += size
	return true
}

// front is the oldest record held, or nil.
func (t *spoolTail) front() *tailRecord {
	if t.n == 0 {
		return nil
	}
	return &t.ring[t.head]
}

// pop drops the oldest record, clearing its place: once the consumer has
// it, the tail must not keep its strings alive.
func (t *spoolTail) pop() {
	r := &t.ring[t.head]
	t.bytes -= r.end - r.off
	*r = tailRecord{}
	t.head = (t.head + 1) % len(t.ring)
	t.n--
}

// from is where in seg the tail's records start, or durable when it holds
// none of seg's: the reader reads the file up to there.
func (t *spoolTail) from(seg *segment, durable int64) int64 {
	if r := t.front(); r != nil && r.seg == seg {
		return r.off
	}
	return durable
}

type unshipped struct {
	lastSeq uint64
	firstTS int64
}

const (
	segPrefix      = "seg-"
	segSuffix      = ".tgs"
	checkpointName = "checkpoint"
	reserveName    = "reserve"
)

// OpenSpool opens (creating if needed) the spool in dir and recovers it: a
// torn last record from a crash mid-write is cut off, damaged regions are
// skipped with a warning, and every record after the checkpoint will be
// delivered again by Next.
func OpenSpool(dir string, opt SpoolOptions) (*Spool, error) {
	if opt.SegmentSize <= 0 {
		opt.SegmentSize = 4 << 20
	}
	if opt.Reserve <= 0 {
		opt.Reserve = 2 * opt.SegmentSize
	}
	s := &Spool{
		dir:         dir,
		opt:         opt,
		log:         opt.Logger,
		notify:      make(chan struct{}, 1),
		closed:      make(chan struct{}),
		reservePath: filepath.Join(dir, reserveName),
		tail:        spoolTail{maxRecords: tailRecords, maxBytes: tailBytes},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "cdr-spool", "dir", dir)
	s.gc = newGroupCommitter(s.flush)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr spool: %w", err)
	}
	if err := s.openCheckpoint(); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.ckptFile.Close()
		return nil, err
	}
	// After recovery, which deleted what had shipped: a full disk must not
	// keep the spool from opening, only from being ready.
	s.restoreReserve()
	return s, nil
}

func (s *Spool) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("cdr spool: %w", err)
	}
	var segs []*segment
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil || first == 0 {
			continue
		}
		segs = append(segs, &segment{first: first, path: filepath.Join(s.dir, name), sealed: true})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })

	maxSeq := s.ckpt
	for i, seg := range segs {
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return fmt.Errorf("cdr spool: recover: %w", err)
		}
		seg.lastSeq = seg.first - 1
		var firstTS int64
		var pending int64
		goodEnd, damaged := scanFrames(data, func(f frame) {
			if f.seq <= seg.lastSeq {
				return
			}
			seg.lastSeq = f.seq
			if f.seq > s.ckpt {
				if pending == 0 {
					firstTS = f.unixNS
				}
				pending++
			}
		})
		if damaged > 0 {
			s.log.Warn("skipping damaged bytes in spool segment", "segment", seg.path, "bytes", damaged)
		}
		seg.size = int64(len(data))
		if goodEnd < len(data) && i == len(segs)-1 {
			// The newest segment was being written when the process died:
			// whatever follows the last complete record is a torn write.
			s.log.Warn("truncating torn tail of spool segment", "segment", seg.path, "bytes", len(data)-goodEnd)
			if err := truncateSync(seg.path, int64(goodEnd)); err != nil {
				return fmt.Errorf("cdr spool: recover: %w", err)
			}
			seg.size = int64(goodEnd)
		}
		maxSeq = max(maxSeq, seg.lastSeq)
		if pending == 0 {
			if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("cdr spool: recover: %w", err)
			}
			continue
		}
		s.depth += pending
		s.groups = append(s.groups, unshipped{lastSeq: seg.lastSeq, firstTS: firstTS})
		s.bytes += seg.size
		s.segs = append(s.segs, seg)
	}
	s.nextSeq = maxSeq + 1
	s.lastDelivered = s.ckpt
	if s.depth > 0 {
		s.log.Info("spool recovered records to ship", "records", s.depth)
	}
	return nil
}

// Append makes rec durable in the spool: when it returns nil the record has
// been fsync'd and will reach the consumer even if the process dies. Many
// goroutines may append at once; they share fsyncs. On error (a full disk,
// an I/O error) the record may or may not be stored — appending it again is
// safe because every consumer stores a record ID at most once. Append never
// panics on I/O failure and works again once the cause is gone.
//
// rec is not kept: the spool copies what it holds on to. It is passed by
// reference because the switch appends on a goroutine it starts per SIP
// request, whose stack starts small: each copy of the 800-byte record
// in a frame on the way made that stack grow, copying it whole, more often.
func (s *Spool) Append(rec *Record) error {
	if err := validate(rec); err != nil {
		return err
	}
	buf := encodeBuffers.Get().(*[]byte)
	payload, err := encodeRecord((*buf)[:0], rec)
	defer putEncodeBuffer(buf, payload)
	if err != nil {
		return fmt.Errorf("cdr spool: encode %s: %w", rec.ID, err)
	}
	if len(payload) > maxFramePayload {
		return fmt.Errorf("cdr spool: record %s is %d bytes encoded, over the %d limit", rec.ID, len(payload), maxFramePayload)
	}
	tailed := tailable(rec)
	var attempts []Attempt
	if tailed {
		attempts = decodedAttempts(rec.Attempts)
	}
	now := time.Now().UnixNano()
	err = s.gc.commit(func(g *commitGroup) {
		seq := s.nextSeq
		s.nextSeq++
		if g.n == 0 {
			g.firstSeq, g.firstTS = seq, now
		}
		off := len(g.buf)
		g.buf = appendFrame(g.buf, seq, now, payload)
		g.n++
		g.lastSeq = seq
		if tailed {
			r := g.addRecord()
			r.seq, r.off, r.end = seq, int64(off), int64(len(g.buf))
			r.rec = *rec
			r.rec.Attempts = attempts
			asDecoded(&r.rec)
		}
	})
	if err != nil {
		return fmt.Errorf("cdr spool: append %s: %w", rec.ID, err)
	}
	return nil
}

// encodeBuffers hold records being encoded for Append, which copies them
// into its commit group: one buffer per appender at a time, not one
// allocation per record.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// putEncodeBuffer gives buf back to encodeBuffers with what was encoded in
// it, b, unless it grew huge for a rare huge record.
func putEncodeBuffer(buf *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*buf = b[:0]
		encodeBuffers.Put(buf)
	}
}

// encodeRecord appends rec's JSON to dst, as encoding/json writes it.
func encodeRecord(dst []byte, rec *Record) ([]byte, error) {
	if b, exact := appendRecordJSON(dst, rec, formFull, nil); exact {
		return b, nil
	}
	b, err := json.Marshal(*rec) // a copy: rec stays on its caller's stack
	return append(dst[:0], b...), err
}

// tailable says whether the spool's tail can hand the consumer a copy of
// rec, just encoded into a frame, instead of the file's: whatever a sink
// does with a record, it must not tell the two apart, and what is rare and
// costly to mimic is left to the file: invalid UTF-8 (each bad byte reads
// back as U+FFFD) and a zone offset with seconds (written to the minute).
func tailable(rec *Record) bool {
	ok := validUTF8(rec.ID, rec.ConfID, rec.CallIDA, rec.CallIDB, rec.CallerNumber, rec.CallerName,
		rec.CalledReceived, rec.CalledSent, rec.SourceIP, rec.Account, rec.Route, rec.Gateway,
		rec.SIPReason, rec.ReleasedBy, rec.DisconnectReason, rec.CodecA, rec.CodecB, rec.MediaRelay,
		rec.UserAgentA, rec.UserAgentB, rec.RADIUS.Auth, rec.RADIUS.AuthMethod, rec.RADIUS.Server, rec.Node)
	ok = ok && wholeMinutes(rec.SetupTime) && wholeMinutes(rec.RingingTime) &&
		wholeMinutes(rec.ConnectTime) && wholeMinutes(rec.DisconnectTime)
	for i := range rec.Attempts {
		a := &rec.Attempts[i]
		ok = ok && validUTF8(a.Gateway, a.CallID, a.SIPReason) && wholeMinutes(a.Start) && wholeMinutes(a.End)
	}
	return ok
}

// wholeMinutes says whether t's zone offset is written exactly in RFC 3339.
func wholeMinutes(t time.Time) bool {
	_, offset := t.Zone()
	return offset%60 == 0
}

// asDecoded turns rec, a tailable record's copy, into the Record that
// decoding its frame gives, but for its attempts (decodedAttempts):
// decoding drops a time's monotonic clock reading and gives it UTC for a
// zero offset, else Local when Local had that offset then, else a fixed
// zone; it drops an unknown figure's value. It runs under the committer's
// lock, on the copy in the commit group: a copy of its own on the
// appender's stack would cost that stack 800 bytes more.
func asDecoded(rec *Record) {
	for _, t := range [...]*time.Time{&rec.SetupTime, &rec.RingingTime, &rec.ConnectTime, &rec.DisconnectTime} {
		asDecodedTime(t)
	}
	for _, st := range [...]*RTPStats{&rec.RTPAtoB, &rec.RTPBtoA} {
		asDecodedFigure(&st.Packets)
		asDecodedFigure(&st.Bytes)
		asDecodedFigure(&st.Lost)
		asDecodedFigure(&st.Jitter)
		asDecodedFigure(&st.RTT)
		asDecodedFigure(&st.MOS)
	}
}

// decodedAttempts are a tailable record's attempts as decoding its frame
// gives them: an array of their own, which the caller cannot change
// afterwards, their times as asDecoded makes them.
func decodedAttempts(as []Attempt) []Attempt {
	if as == nil {
		return nil
	}
	as = slices.Clone(as)
	for i := range as {
		asDecodedTime(&as[i].Start)
		asDecodedTime(&as[i].End)
	}
	return as
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// asDecodedTime turns *t, of an offset in whole minutes (wholeMinutes),
// into what time.Time's UnmarshalJSON makes of its RFC 3339 form.
func asDecodedTime(t *time.Time) {
	_, offset := t.Zone()
	if offset == 0 {
		*t = t.UTC()
		return
	}
	*t = t.In(time.Local)
	if _, local := t.Zone(); local != offset {
		*t = t.In(time.FixedZone("", offset))
	}
}

// asDecodedFigure drops an unknown figure's value, which is written null.
func asDecodedFigure[T uint64 | time.Duration | float64](m *Maybe[T]) {
	if !m.Known {
		*m = Maybe[T]{}
	}
}

// flush writes one group durably. On a full disk it gives the reserve back
// and tries again: the group holds records of calls that already happened.
func (s *Spool) flush(g *commitGroup) error {
	err := s.write(g)
	if isNoSpace(err) && s.releaseReserve(err) {
		err = s.write(g)
	}
	switch {
	case err != nil:
		s.setState(SpoolFull, err)
	case s.State() == SpoolFull:
		s.setState(SpoolOnReserve, nil)
	}
	return err
}

// write writes one group to the active segment and fsyncs it.
func (s *Spool) write(g *commitGroup) error {
	if s.active == nil || s.broken {
		if err := s.startSegment(g.firstSeq); err != nil {
			return err
		}
	}
	off := s.activeSize
	_, err := s.active.WriteAt(g.buf, off)
	if err == nil {
		err = syscall.Fdatasync(int(s.active.Fd()))
	} else if terr := s.active.Truncate(off); terr != nil {
		// A partial write we cannot cut off: later frames must not follow it.
		s.broken = true
	}
	if err != nil {
		if errors.Is(err, syscall.EIO) {
			// After a failed fsync the page cache may not match the disk.
			s.broken = true
		}
		return fmt.Errorf("write segment: %w", err)
	}
	s.activeSize += int64(len(g.buf))

	s.mu.Lock()
	grew := s.activeSize - s.activeSeg.size
	s.activeSeg.size = s.activeSize
	s.activeSeg.lastSeq = g.lastSeq
	s.bytes += grew
	s.depth += int64(g.n)
	s.groups = append(s.groups, unshipped{lastSeq: g.lastSeq, firstTS: g.firstTS})
	for i := range g.records {
		r := &g.records[i]
		r.seg, r.off, r.end = s.activeSeg, off+r.off, off+r.end
		if !s.tail.push(r) {
			break
		}
	}
	if s.activeSize >= s.opt.SegmentSize {
		s.activeSeg.sealed = true
	}
	s.mu.Unlock()
	if s.activeSeg.sealed {
		s.active.Close()
		s.active, s.activeSeg = nil, nil
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// startSegment seals the active segment, if any, and creates the next one,
// named for the first sequence number it will hold.
func (s *Spool) startSegment(first uint64) error {
	if s.active != nil {
		s.active.Close()
		s.mu.Lock()
		s.activeSeg.sealed = true
		s.mu.Unlock()
		s.active, s.activeSeg = nil, nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment: %w", err)
	}
	seg := &segment{first: first, path: path, lastSeq: first - 1}
	s.mu.Lock()
	s.segs = append(s.segs, seg)
	s.mu.Unlock()
	s.active, s.activeSeg, s.activeSize, s.broken = f, seg, 0, false
	return nil
}

// Next returns the next batch of at most max records, waiting until there
// is at least one record or ctx is done.
func (s *Spool) Next(ctx context.Context, max int) (Batch, error) {
	for {
		b, err := s.read(max)
		if err != nil || b.frames > 0 {
			return b, err
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-s.closed:
			return Batch{}, errClosed
		}
	}
}

func (s *Spool) read(max int) (Batch, error) {
	var b Batch
	for b.frames < int64(max) {
		s.mu.Lock()
		if s.rseg == nil {
			for _, seg := range s.segs {
				if seg.lastSeq > s.lastDelivered || !seg.sealed {
					s.rseg = seg
					break
				}
			}
		}
		seg := s.rseg
		if seg == nil {
			s.mu.Unlock()
			break
		}
		durable, sealed := seg.size, seg.sealed
		hasNext := s.segs[len(s.segs)-1] != seg
		s.takeTail(&b, max)
		until := s.tail.from(seg, durable)
		s.mu.Unlock()
		if b.frames == int64(max) {
			break
		}
		if s.rpos < until {
			if err := s.readFile(&b, max, seg, until); err != nil {
				if b.frames > 0 {
					break
				}
				return b, err
			}
			continue
		}
		if !sealed || !hasNext {
			break
		}
		s.closeReader()
	}
	return b, nil
}

// takeTail moves into b, up to max frames, the records the tail holds from
// the read position on, as readFile would decode their frames, and drops
// those the reader is past (it read them from the file). Called with mu
// held, on the consumer's goroutine, with a segment to read.
func (s *Spool) takeTail(b *Batch, max int) {
	// Room for all of them at once: a record is some 800 bytes to copy
	// again each time append grows the batch.
	b.Records = slices.Grow(b.Records, min(max-int(b.frames), s.tail.n))
	for b.frames < int64(max) {
		r := s.tail.front()
		if r == nil {
			return
		}
		switch {
		case r.seg == s.rseg && r.off == s.rpos:
			s.rpos = r.end
			if r.seq > s.lastDelivered {
				s.lastDelivered = r.seq
				b.lastSeq = r.seq
				b.frames++
				b.Records = append(b.Records, r.rec)
			}
		case r.seg.first > s.rseg.first || r.seg == s.rseg && r.off > s.rpos:
			return // ahead of the reader, which reads the file up to it
		}
		// Taken, or passed by the reader, which decoded it from the file.
		s.tail.pop()
	}
}

// readFile decodes the frames of seg from the read position up to until,
// where the tail takes over (or the durable end), reading them from the
// file: after a restart, and when the consumer fell further behind than
// the tail holds.
func (s *Spool) readFile(b *Batch, max int, seg *segment, until int64) error {
	if s.rpos >= s.rbufAt+int64(len(s.rbuf)) {
		// All read (or passed by the tail): start the buffer afresh, so
		// that it holds what is still to decode, not the whole segment.
		s.rbuf, s.rbufAt = s.rbuf[:0], s.rpos
	}
	if have := s.rbufAt + int64(len(s.rbuf)); have < until {
		if err := s.load(seg, have, until); err != nil {
			return err
		}
	}
	for b.frames < int64(max) && s.rpos < until {
		i := int(s.rpos - s.rbufAt)
		f, n, err := decodeFrame(s.rbuf[i:])
		if err != nil {
			next := bytes.Index(s.rbuf[i+1:], frameMagic)
			if next < 0 {
				s.rpos = s.rbufAt + int64(len(s.rbuf))
			} else {
				s.rpos += int64(1 + next)
			}
			continue
		}
		s.rpos += int64(n)
		if f.seq <= s.lastDelivered {
			continue
		}
		s.lastDelivered = f.seq
		b.lastSeq = f.seq
		b.frames++
		var rec Record
		if err := json.Unmarshal(f.payload, &rec); err != nil {
			s.log.Error("dropping undecodable spooled record", "seq", f.seq, "err", err)
			continue
		}
		b.Records = append(b.Records, rec)
	}
	return nil
}

// load reads the segment's bytes from the offset where the read buffer
// ends up to the offset to.
func (s *Spool) load(seg *segment, from, to int64) error {
	if s.rfile == nil {
		f, err := os.Open(seg.path)
		if err != nil {
			return fmt.Errorf("cdr spool: read: %w", err)
		}
		s.rfile = f
	}
	have := len(s.rbuf)
	s.rbuf = slices.Grow(s.rbuf, int(to-from))[:have+int(to-from)]
	n, err := s.rfile.ReadAt(s.rbuf[have:], from)
	if err != nil && !errors.Is(err, io.EOF) {
		s.rbuf = s.rbuf[:have]
		return fmt.Errorf("cdr spool: read: %w", err)
	}
	// A file cut short reads as zeros, which are skipped as damage, not
	// as bytes the buffer held before.
	clear(s.rbuf[have+n:])
	return nil
}

func (s *Spool) closeReader() {
	if s.rfile != nil {
		s.rfile.Close()
	}
	s.rseg, s.rfile, s.rpos, s.rbuf, s.rbufAt = nil, nil, 0, s.rbuf[:0], 0
}

// Commit marks b shipped: its records will not be delivered again, and
// segments holding only shipped records are deleted. Batches must be
// committed in the order Next returned them. On error (the checkpoint could
// not be written) call Commit again later; meanwhile the batch would be
// delivered again after a restart, which consumers tolerate.
func (s *Spool) Commit(b Batch) error {
	if b.frames == 0 {
		return nil
	}
	err := s.writeCheckpoint(b.lastSeq)
	if isNoSpace(err) && s.releaseReserve(err) {
		err = s.writeCheckpoint(b.lastSeq)
	}
	if err != nil {
		return err
	}
	s.gc.idle(func() { s.reclaimActive(b.lastSeq) })
	s.mu.Lock()
	if b.lastSeq <= s.ckpt {
		s.mu.Unlock()
		return nil
	}
	s.ckpt = b.lastSeq
	s.depth -= b.frames
	if s.rseg != nil && s.rseg.sealed && s.rseg.lastSeq <= s.ckpt {
		s.closeReader()
	}
	i := 0
	for i < len(s.groups) && s.groups[i].lastSeq <= s.ckpt {
		i++
	}
	s.groups = s.groups[i:]
	var drop []*segment
	keep := s.segs[:0]
	for _, seg := range s.segs {
		if seg.sealed && seg.lastSeq <= s.ckpt && seg != s.rseg {
			drop = append(drop, seg)
			s.bytes -= seg.size
			continue
		}
		keep = append(keep, seg)
	}
	s.segs = keep
	s.mu.Unlock()
	for _, seg := range drop {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("cannot delete shipped spool segment", "segment", seg.path, "err", err)
		}
	}
	if len(drop) > 0 && s.State() != SpoolReady {
		s.restoreReserve()
	}
	return nil
}

// reclaimActive closes the active segment when every record in it has
// shipped (up to ckpt) and it is worth deleting: big enough, or the disk is
// full. Commit then deletes it like any sealed segment. It runs with no
// flush in progress (groupCommitter.idle).
func (s *Spool) reclaimActive(ckpt uint64) {
	if s.active == nil || s.activeSeg.lastSeq > ckpt {
		return
	}
	if s.activeSize < reclaimSize && s.State() == SpoolReady {
		return
	}
	s.active.Close()
	s.mu.Lock()
	s.activeSeg.sealed = true
	s.mu.Unlock()
	s.active, s.activeSeg = nil, nil
}

// State says whether records can be made durable now. At most every
// checkInterval it looks at the disk: with less than lowSpace free, or no
// reserve, the spool is on its reserve before any write fails (the switch
// refuses new calls early); with both back, it is ready again.
func (s *Spool) State() SpoolState {
	now := time.Now().UnixNano()
	last := s.lastCheck.Load()
	if now-last > int64(checkInterval) && s.lastCheck.CompareAndSwap(last, now) {
		s.checkSpace()
	}
	return SpoolState(s.state.Load())
}

// checkSpace restores the reserve when it can and sets the state from the
// space left. A spool that failed a write stays full until a write works or
// its reserve is back.
func (s *Spool) checkSpace() {
	reserveErr := s.makeReserve()
	free := s.freeBytes()
	switch {
	case reserveErr == nil && free >= lowSpace:
		s.setState(SpoolReady, nil)
	case reserveErr == nil:
		s.setState(SpoolOnReserve, fmt.Errorf("%d bytes free on the spool's disk besides the reserve", free))
	case SpoolState(s.state.Load()) == SpoolReady:
		s.setState(SpoolOnReserve, reserveErr)
	}
}

// freeBytes is the space left to the spool on its file system.
func (s *Spool) freeBytes() int64 {
	var fs syscall.Statfs_t
	if syscall.Statfs(s.dir, &fs) != nil {
		return 0
	}
	return int64(fs.Bavail) * fs.Bsize
}

// setState changes the state, logging the change (and only a change).
func (s *Spool) setState(st SpoolState, cause error) {
	old := SpoolState(s.state.Swap(int32(st)))
	if old == st {
		return
	}
	switch st {
	case SpoolReady:
		s.log.Info("cdr spool ready again: its reserve is back", "was", old.String())
	case SpoolOnReserve:
		s.log.Error("cdr spool disk full: writing into its reserve; new calls are refused", "was", old.String(), "error", cause)
	case SpoolFull:
		s.log.Error("cdr spool cannot write records: they are held in memory", "was", old.String(), "error", cause)
	}
}

// makeReserve allocates the reserve file to its full size (a no-op when it
// already is). On failure it leaves no partial reserve behind.
func (s *Spool) makeReserve() error {
	s.reserveMu.Lock()
	defer s.reserveMu.Unlock()
	f, err := os.OpenFile(s.reservePath, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("cdr spool reserve: %w", err)
	}
	defer f.Close()
	err = syscall.Fallocate(int(f.Fd()), 0, 0, s.opt.Reserve)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		err = fillZeros(f, s.opt.Reserve)
	}
	if err == nil {
		err = syscall.Fdatasync(int(f.Fd()))
	}
	if err != nil {
		f.Truncate(0)
		return fmt.Errorf("cdr spool reserve of %d bytes: %w", s.opt.Reserve, err)
	}
	return nil
}

// fillZeros allocates size bytes of f by writing them, where the file
// system cannot preallocate.
func fillZeros(f *os.File, size int64) error {
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// releaseReserve gives the reserve's space back to the file system, for
// the spool's own writes, and reports whether there was any to give.
func (s *Spool) releaseReserve(cause error) bool {
	s.reserveMu.Lock()
	st, err := os.Stat(s.reservePath)
	released := err == nil && st.Size() > 0 && os.Truncate(s.reservePath, 0) == nil
	s.reserveMu.Unlock()
	if released {
		s.setState(SpoolOnReserve, cause)
	}
	return released
}

// restoreReserve makes the reserve again once shipping freed space.
func (s *Spool) restoreReserve() {
	s.lastCheck.Store(time.Now().UnixNano())
	s.checkSpace()
}

// isNoSpace tells a full disk (or quota) from other write errors.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Stats returns the spool's gauges.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	st := SpoolStats{Depth: s.depth, Bytes: s.bytes, Segments: len(s.segs)}
	if len(s.groups) > 0 && s.depth > 0 {
		st.OldestUnshipped = time.Unix(0, s.groups[0].firstTS)
	}
	s.mu.Unlock()
	st.State = s.State()
	st.FreeBytes = s.freeBytes()
	return st
}

// Close stops the spool: appends fail with an error, a waiting Next returns.
func (s *Spool) Close() error {
	var err error
	s.gc.close(func() {
		if s.active != nil {
			err = s.active.Close()
			s.active = nil
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return nil
	default:
		close(s.closed)
	}
	if s.rfile != nil {
		s.rfile.Close()
		s.rfile = nil
	}
	if cerr := s.ckptFile.Close(); err == nil {
		err = cerr
	}
	return err
}

// The checkpoint is 16 bytes — magic, sequence number, CRC — overwritten in
// place rather than replaced by rename: on a full disk a rename needs a new
// block and would fail, leaving shipped segments undeletable and the disk
// full for good. A write this small within one sector does not tear in
// practice; if it ever did, the CRC catches it and the spool replays from the
// start, which consumers tolerate.
var ckptMagic = []byte("TGK1")

func (s *Spool) openCheckpoint() error {
	f, err := os.OpenFile(filepath.Join(s.dir, checkpointName), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("cdr spool: checkpoint: %w", err)
	}
	s.ckptFile = f
	var b [16]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return fmt.Errorf("cdr spool: checkpoint: %w", err)
	}
	switch {
	case n == 0:
		// Written now, while there may be space: the checkpoint is then
		// overwritten in place and never needs a new block.
		if err := s.writeCheckpoint(0); err != nil {
			s.log.Warn("spool checkpoint not written yet", "error", err)
		}
	case n == 16 && bytes.Equal(b[:4], ckptMagic) && crc32.Checksum(b[:12], crcTable) == binary.BigEndian.Uint32(b[12:]):
		s.ckpt = binary.BigEndian.Uint64(b[4:12])
	default:
		s.log.Error("spool checkpoint is damaged: replaying every spooled record (stores ignore duplicates)")
	}
	return nil
}

func (s *Spool) writeCheckpoint(seq uint64) error {
	b := make([]byte, 0, 16)
	b = append(b, ckptMagic...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	if _, err := s.ckptFile.WriteAt(b, 0); err != nil {
		return fmt.Errorf("cdr spool: checkpoint: %w", err)
	}
	if err := syscall.Fdatasync(int(s.ckptFile.Fd())); err != nil {
		return fmt.Errorf("cdr spool: checkpoint: %w", err)
	}
	return nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes a file creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// validate rejects records no consumer could store exactly once.
func validate(rec *Record) error {
	if !isUUID(rec.ID) {
		return fmt.Errorf("cdr: record ID %q is not a UUID", rec.ID)
	}
	if rec.SetupTime.IsZero() {
		return fmt.Errorf("cdr: record %s has no setup time", rec.ID)
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
