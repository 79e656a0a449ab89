package codec

import "testing"

// FuzzG722Decode: any byte string is a stream of valid code words; the
// decoder must neither panic nor leave its bounded state (a reconstructed
// sub-band signal saturates, it never wraps), and a reset decoder given
// the same bytes must give the same samples.
func FuzzG722Decode(f *testing.F) {
	f.Add([]byte{0x00, 0xFF, 0x3F, 0xC0})
	f.Add(make([]byte, 160))
	enc := NewG722Encoder()
	code := make([]byte, 160)
	enc.Encode(code, tone(1000, 16000, 16000, 320))
	f.Add(code)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewG722Decoder()
		out := make([]int16, 2*len(b))
		if n := d.Decode(out, b); n != 2*len(b) {
			t.Fatalf("%d samples from %d bytes", n, len(b))
		}
		for _, bb := range []*band{&d.low, &d.high} {
			if bb.det <= 0 || bb.nb < 0 || bb.a[1] < -32768 || bb.a[1] > 32767 || bb.a[2] < -12288 || bb.a[2] > 12288 {
				t.Fatalf("state out of range: %+v", *bb)
			}
		}
		again := make([]int16, 2*len(b))
		d.Reset()
		d.Decode(again, b)
		for i := range out {
			if out[i] != again[i] {
				t.Fatalf("sample %d: %d then %d after Reset", i, out[i], again[i])
			}
		}
	})
}

// FuzzG722RoundTrip: whatever PCM goes in, encoding and decoding stay in
// bounds and the decoder tracks the encoder: the encoder's own decoder
// state is the decoder's, byte for byte of the code.
func FuzzG722RoundTrip(f *testing.F) {
	f.Add([]byte{0x7F, 0xFF, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		pcm := make([]int16, len(raw)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
		e, d := NewG722Encoder(), NewG722Decoder()
		code := make([]byte, len(pcm)/2)
		n := e.Encode(code, pcm)
		d.Decode(make([]int16, 2*n), code[:n])
		if e.low != d.low || e.high != d.high {
			t.Fatalf("decoder state diverged from the encoder's")
		}
	})
}

// FuzzResample: arbitrary PCM through both resamplers, in frames of any
// size, never panics and writes exactly the samples it reports.
func FuzzResample(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, uint16(160))
	f.Fuzz(func(t *testing.T, raw []byte, frame uint16) {
		pcm := make([]int16, len(raw)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
		step := int(frame%700) + 1
		var d Downsampler
		var u Upsampler
		for i := 0; i < len(pcm); i += step {
			in := pcm[i:min(i+step, len(pcm))]
			if n := d.Process(make([]int16, len(in)/2), in); n != len(in)/2 {
				t.Fatalf("down: %d from %d", n, len(in))
			}
			if n := u.Process(make([]int16, 2*len(in)), in); n != 2*len(in) {
				t.Fatalf("up: %d from %d", n, len(in))
			}
		}
	})
}
