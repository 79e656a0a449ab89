package cdr

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"testing/iotest"
)

// FuzzSpoolDecode feeds arbitrary bytes to the spool's frame decoder and
// scanner: they must never panic, and every frame they return must carry a
// CRC that matches its header and payload.
func FuzzSpoolDecode(f *testing.F) {
	good := appendFrame(nil, 1, 1700000000, []byte(`{"id":"x"}`))
	good = appendFrame(good, 2, 1700000001, []byte(`{}`))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append([]byte("junkTGC1"), good...))
	f.Add([]byte("TGC1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(fr frame) {
			// The payload aliases b, so its capacity locates the frame.
			start := cap(b) - cap(fr.payload) - frameHeader
			if start < 0 || start+frameHeader+len(fr.payload) > len(b) {
				t.Fatalf("payload outside the input")
			}
			h := b[start : start+frameHeader]
			crc := crc32.Update(0, crcTable, h[4:24])
			crc = crc32.Update(crc, crcTable, fr.payload)
			if crc != binary.BigEndian.Uint32(h[24:28]) || binary.BigEndian.Uint64(h[8:16]) != fr.seq {
				t.Fatalf("decoded frame seq %d whose CRC does not match", fr.seq)
			}
		}
		if fr, n, err := decodeFrame(b); err == nil {
			if n < frameHeader || n > len(b) || len(fr.payload) != n-frameHeader {
				t.Fatalf("bad length %d for input of %d", n, len(b))
			}
			check(fr)
		}
		var scanned []uint64
		end, damaged := scanFrames(b, func(fr frame) { check(fr); scanned = append(scanned, fr.seq) })
		if end > len(b) || damaged < 0 || damaged > end {
			t.Fatalf("scan end %d damaged %d for input of %d", end, damaged, len(b))
		}
		// Read in small pieces, the same frames come out.
		var read []uint64
		err := readFrames(iotest.HalfReader(bytes.NewReader(b)), func(raw []byte, fr frame) error {
			if !bytes.Equal(raw, appendFrame(nil, fr.seq, fr.unixNS, fr.payload)) {
				t.Fatalf("frame %d read as other bytes", fr.seq)
			}
			read = append(read, fr.seq)
			return nil
		})
		if err != nil || !slices.Equal(read, scanned) {
			t.Fatalf("read frames %v (%v), scanned %v", read, err, scanned)
		}
	})
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"id":"00000000-0000-4000-8000-000000000001"}`)
	b := appendFrame(nil, 42, 123456789, payload)
	fr, n, err := decodeFrame(b)
	if err != nil || n != len(b) || fr.seq != 42 || fr.unixNS != 123456789 || !bytes.Equal(fr.payload, payload) {
		t.Fatalf("decode: %+v %d %v", fr, n, err)
	}
	if _, _, err := decodeFrame(b[:len(b)-1]); err != errShortFrame {
		t.Fatalf("truncated frame: %v, want errShortFrame", err)
	}
	for i := 4; i < len(b); i++ {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		if _, _, err := decodeFrame(c); err == nil {
			t.Fatalf("flipped bit at byte %d went unnoticed", i)
		}
	}
}

// readFrames reads frames bigger than its buffer, across damage, and not
// a torn last frame.
func TestReadFramesFromAFile(t *testing.T) {
	t.Parallel()
	var b []byte
	b = appendFrame(b, 1, 1, bytes.Repeat([]byte("a"), 300<<10))
	b = append(b, "TGC1 damage"...)
	b = appendFrame(b, 2, 2, []byte("b"))
	torn := appendFrame(nil, 3, 3, []byte("torn"))
	b = append(b, torn[:len(torn)-1]...)
	var got []uint64
	err := readFrames(bytes.NewReader(b), func(raw []byte, fr frame) error {
		got = append(got, fr.seq)
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("read %v (%v), want frames 1 and 2", got, err)
	}
}
