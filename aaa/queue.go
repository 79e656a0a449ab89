package aaa

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"layeh.com/radius"
)

// Queue is the durable store of accounting records no server answered:
// an append-only log of records and of delivery checkpoints, each fsync'd
// before it is acknowledged, replayed on open. A record is delivered once;
// the server sees it twice only when it answered and the answer (or the
// checkpoint, in a crash) was lost — the at-least-once of RADIUS itself.
// The log is truncated whenever everything in it has been delivered.
type Queue struct {
	mu       sync.Mutex
	f        *os.File
	size     int64
	reserved int64 // the log's blocks are allocated up to here
	nextSeq  uint64
	pending  []QueuedRecord // oldest first
}

// queueReserve is the disk space kept allocated past the log's end, without
// changing its size, so that records no server answered can still be queued
// on a full disk (the CDR spool's disk, by default): some 3,000 records.
const queueReserve = 1 << 20

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate without growing the file.
const fallocKeepSize = 0x1

// QueuedRecord is one undelivered accounting packet.
type QueuedRecord struct {
	Seq     uint64
	Created time.Time // when the packet was first made; Acct-Delay-Time counts from it
	Attrs   radius.Attributes
}

const (
	recRecord     = 'R'
	recDelivered  = 'D'
	recHeaderSize = 4 + 4 + 1 // length, CRC-32C, type
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenQueue opens (creating) the queue in dir and replays it. A record torn
// by a crash while being written is cut off: it was never acknowledged.
func OpenQueue(dir string) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("accounting queue: %w", err)
	}
	name := filepath.Join(dir, "accounting.queue")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("accounting queue: %w", err)
	}
	q := &Queue{f: f}
	if err := q.replay(); err != nil {
		f.Close()
		return nil, fmt.Errorf("accounting queue %s: %w", name, err)
	}
	return q, nil
}

func (q *Queue) replay() error {
	data, err := io.ReadAll(q.f)
	if err != nil {
		return err
	}
	index := map[uint64]int{}
	var off int64
	for {
		typ, payload, n := decodeLogEntry(data[off:])
		if n == 0 {
			break
		}
		switch typ {
		case recRecord:
			if len(payload) < 16 {
				return fmt.Errorf("short record at %d", off)
			}
			attrs, err := radius.ParseAttributes(payload[16:])
			if err != nil {
				return fmt.Errorf("record at %d: %w", off, err)
			}
			seq := binary.BigEndian.Uint64(payload)
			index[seq] = len(q.pending)
			q.pending = append(q.pending, QueuedRecord{
				Seq:     seq,
				Created: time.Unix(0, int64(binary.BigEndian.Uint64(payload[8:]))),
				Attrs:   attrs,
			})
			q.nextSeq = max(q.nextSeq, seq+1)
		case recDelivered:
			for p := payload; len(p) >= 8; p = p[8:] {
				if i, ok := index[binary.BigEndian.Uint64(p)]; ok {
					q.pending[i].Seq = 0 // delivered; seq 0 is never issued
				}
			}
		}
		off += int64(n)
	}
	live := q.pending[:0]
	for _, r := range q.pending {
		if r.Seq != 0 {
			live = append(live, r)
		}
	}
	q.pending = live
	if q.nextSeq == 0 {
		q.nextSeq = 1
	}
	if off != int64(len(data)) {
		if err := q.f.Truncate(off); err != nil {
			return err
		}
	}
	q.size = off
	if len(q.pending) == 0 && q.size > 0 {
		return q.truncate()
	}
	q.reserve()
	return nil
}

// reserve allocates queueReserve bytes past the log's end once less than
// half of that is left. It is best effort: on a full disk the queue lives
// on what is already allocated, which is what the reserve is for.
func (q *Queue) reserve() {
	if q.reserved-q.size >= queueReserve/2 {
		return
	}
	if syscall.Fallocate(int(q.f.Fd()), fallocKeepSize, q.size, queueReserve) == nil {
		q.reserved = q.size + queueReserve
	}
}

// decodeLogEntry returns one entry, or n == 0 at the end or at a torn or
// corrupt entry.
func decodeLogEntry(b []byte) (typ byte, payload []byte, n int) {
	if len(b) < recHeaderSize {
		return 0, nil, 0
	}
	l := int(binary.BigEndian.Uint32(b))
	if l > radius.MaxPacketLength+16 || len(b) < recHeaderSize+l {
		return 0, nil, 0
	}
	body := b[8 : recHeaderSize+l]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, 0
	}
	return body[0], body[1:], recHeaderSize + l
}

func appendLogEntry(dst []byte, typ byte, payload []byte) []byte {
	var h [recHeaderSize]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(payload)))
	h[8] = typ
	crc := crc32.Update(crc32.Checksum(h[8:9], crcTable), crcTable, payload)
	binary.BigEndian.PutUint32(h[4:], crc)
	return append(append(dst, h[:]...), payload...)
}

func (q *Queue) write(b []byte) error {
	if _, err := q.f.WriteAt(b, q.size); err != nil {
		return err
	}
	if err := q.f.Sync(); err != nil {
		return err
	}
	q.size += int64(len(b))
	q.reserve()
	return nil
}

// Append stores a packet's attributes durably (fsync'd on return) and
// returns the record's sequence number.
func (q *Queue) Append(attrs radius.Attributes, created time.Time) (uint64, error) {
	n, err := radius.AttributesEncodedLen(attrs)
	if err != nil {
		return 0, err
	}
	p := &radius.Packet{Attributes: attrs}
	b, err := p.MarshalBinary()
	if err != nil {
		return 0, err
	}
	payload := make([]byte, 16, 16+n)
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.nextSeq
	binary.BigEndian.PutUint64(payload, seq)
	binary.BigEndian.PutUint64(payload[8:], uint64(created.UnixNano()))
	payload = append(payload, b[20:]...)
	if err := q.write(appendLogEntry(nil, recRecord, payload)); err != nil {
		return 0, fmt.Errorf("accounting queue: %w", err)
	}
	q.nextSeq++
	q.pending = append(q.pending, QueuedRecord{Seq: seq, Created: created, Attrs: attrs})
	return seq, nil
}

// Head returns up to n of the oldest undelivered records.
func (q *Queue) Head(n int) []QueuedRecord {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]QueuedRecord(nil), q.pending[:min(n, len(q.pending))]...)
}

// QueueStats are the queue's gauges, for metrics and the health panel.
type QueueStats struct {
	Depth  int       // undelivered records
	Oldest time.Time // when the oldest of them was made; zero when none
}

// Stats returns the queue's gauges.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{Depth: len(q.pending)}
	if len(q.pending) > 0 {
		st.Oldest = q.pending[0].Created
	}
	return st
}

// Len is the number of undelivered records.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Delivered checkpoints records as delivered, durably, in one write.
func (q *Queue) Delivered(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	payload := make([]byte, 0, 8*len(seqs))
	done := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		payload = binary.BigEndian.AppendUint64(payload, s)
		done[s] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.write(appendLogEntry(nil, recDelivered, payload)); err != nil {
		return fmt.Errorf("accounting queue: %w", err)
	}
	live := q.pending[:0]
	for _, r := range q.pending {
		if !done[r.Seq] {
			live = append(live, r)
		}
	}
	clear(q.pending[len(live):])
	q.pending = live
	if len(q.pending) == 0 {
		return q.truncate()
	}
	return nil
}

// truncate empties the log once everything in it is delivered.
func (q *Queue) truncate() error {
	if err := q.f.Truncate(0); err != nil {
		return fmt.Errorf("accounting queue: %w", err)
	}
	q.size, q.reserved = 0, 0
	q.reserve()
	return q.f.Sync()
}

// Close closes the log; undelivered records stay for the next OpenQueue.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return errors.New("accounting queue: already closed")
	}
	err := q.f.Close()
	q.f = nil
	return err
}
