package cdr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"slices"
)

// A frame is one record in a spool segment or the connected-calls journal:
//
//	[0:4]   magic "TGC1"
//	[4:8]   payload length, big endian
//	[8:16]  sequence number
//	[16:24] append time, Unix nanoseconds
//	[24:28] CRC-32C of bytes [4:24] and the payload
//	[28:]   payload (a JSON-encoded Record, or a journal entry)
//
// The magic lets a reader resynchronise after a damaged region, and the CRC
// covers the header so a torn or flipped length is caught, not trusted.
const (
	frameHeader     = 28
	maxFramePayload = 1 << 20 // a CDR is about 1 KiB; anything bigger is damage
)

var (
	frameMagic = []byte("TGC1")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)

	errShortFrame = errors.New("cdr: incomplete frame")
	errBadFrame   = errors.New("cdr: corrupt frame")
)

type frame struct {
	seq     uint64
	unixNS  int64
	payload []byte // aliases the decoded buffer
}

func appendFrame(dst []byte, seq uint64, unixNS int64, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, frameMagic...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixNS))
	dst = binary.BigEndian.AppendUint32(dst, 0) // the CRC, once the payload is in
	// The CRC is taken over dst, not payload, which then stays where the
	// caller has it (an ended entry's bytes on its stack).
	dst = append(dst, payload...)
	crc := crc32.Update(0, crcTable, dst[start+4:start+24])
	crc = crc32.Update(crc, crcTable, dst[start+frameHeader:])
	binary.BigEndian.PutUint32(dst[start+24:], crc)
	return dst
}

// decodeFrame decodes the frame at the start of b and returns it with its
// encoded length. errShortFrame means b ends inside a plausible frame;
// errBadFrame means the bytes at b are not a valid frame.
func decodeFrame(b []byte) (frame, int, error) {
	if len(b) < frameHeader {
		if !bytes.HasPrefix(frameMagic, b[:min(len(b), len(frameMagic))]) {
			return frame{}, 0, errBadFrame
		}
		return frame{}, 0, errShortFrame
	}
	if !bytes.Equal(b[:4], frameMagic) {
		return frame{}, 0, errBadFrame
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if n > maxFramePayload {
		return frame{}, 0, errBadFrame
	}
	end := frameHeader + int(n)
	if len(b) < end {
		return frame{}, 0, errShortFrame
	}
	crc := crc32.Update(0, crcTable, b[4:24])
	crc = crc32.Update(crc, crcTable, b[frameHeader:end])
	if crc != binary.BigEndian.Uint32(b[24:28]) {
		return frame{}, 0, errBadFrame
	}
	return frame{
		seq:     binary.BigEndian.Uint64(b[8:16]),
		unixNS:  int64(binary.BigEndian.Uint64(b[16:24])),
		payload: b[frameHeader:end],
	}, end, nil
}

// scanFrames calls fn for every valid frame in b in order, skipping damaged
// regions by searching for the next magic. It returns the offset just past
// the last valid frame and how many bytes before that offset were damaged.
func scanFrames(b []byte, fn func(f frame)) (goodEnd, damaged int) {
	off, valid := 0, 0
	for off < len(b) {
		f, n, err := decodeFrame(b[off:])
		if err == nil {
			fn(f)
			off += n
			valid += n
			goodEnd = off
			continue
		}
		next := bytes.Index(b[off+1:], frameMagic)
		if next < 0 {
			break
		}
		off += 1 + next
	}
	return goodEnd, goodEnd - valid
}

// readFrames is scanFrames over a reader, for a file too big to hold in
// memory: fn gets every valid frame in order with its bytes, header and
// payload (both valid until fn returns). Damaged regions are skipped, and
// a torn frame at the end is not delivered. It stops at fn's first error.
func readFrames(r io.Reader, fn func(raw []byte, f frame) error) error {
	buf := make([]byte, 0, 256<<10)
	eof := false
	for {
		off := 0
		for off < len(buf) {
			f, n, err := decodeFrame(buf[off:])
			if err == nil {
				if err := fn(buf[off:off+n], f); err != nil {
					return err
				}
				off += n
				continue
			}
			if errors.Is(err, errShortFrame) && !eof {
				break // the rest of it is still to be read
			}
			next := bytes.Index(buf[off+1:], frameMagic)
			if next < 0 {
				// Keep what could be the start of a magic cut by the read.
				off = max(off+1, len(buf)-(len(frameMagic)-1))
				if eof {
					off = len(buf)
				}
				break
			}
			off += 1 + next
		}
		buf = buf[:copy(buf, buf[off:])]
		if eof {
			return nil
		}
		if len(buf) == cap(buf) { // one frame bigger than the buffer
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			eof = true
		case err != nil:
			return err
		}
	}
}
