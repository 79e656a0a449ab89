package codec

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
)

// tone is amp·sin(2πf·t) at rate, n samples.
func tone(f, amp float64, rate, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
	}
	return out
}

// sweep is a linear chirp from f0 to f1 Hz over n samples at rate.
func sweep(f0, f1, amp float64, rate, n int) []int16 {
	out := make([]int16, n)
	dur := float64(n) / float64(rate)
	for i := range out {
		t := float64(i) / float64(rate)
		out[i] = int16(amp * math.Sin(2*math.Pi*(f0*t+(f1-f0)*t*t/(2*dur))))
	}
	return out
}

// snr compares got, delayed by lag samples, with want, skipping the first
// skip samples (filter and adaptation start-up), in dB.
func snr(want, got []int16, lag, skip int) float64 {
	var sig, noise float64
	for i := skip; i+lag < len(got) && i < len(want); i++ {
		w, g := float64(want[i]), float64(got[i+lag])
		sig += w * w
		noise += (w - g) * (w - g)
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// bestSNR is snr at the lag, within maxLag, where it is highest: codecs and
// filters delay the signal by a fixed number of samples.
func bestSNR(want, got []int16, maxLag, skip int) (float64, int) {
	best, at := math.Inf(-1), 0
	for lag := 0; lag <= maxLag; lag++ {
		if v := snr(want, got, lag, skip); v > best {
			best, at = v, lag
		}
	}
	return best, at
}

func TestG711KnownValues(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"A-law(0)", int(EncodeALaw(0)), 0xD5},
		{"A-law(-1)", int(EncodeALaw(-1)), 0x55},
		{"µ-law(0)", int(EncodeULaw(0)), 0xFF},
		{"A-law max", int(EncodeALaw(32767)), 0xAA},
		{"A-law min", int(EncodeALaw(-32768)), 0x2A},
		{"µ-law max", int(EncodeULaw(32767)), 0x80},
		{"µ-law min", int(EncodeULaw(-32768)), 0x00},
		{"decode A 0xD5", int(DecodeALaw(0xD5)), 8},
		{"decode A 0x55", int(DecodeALaw(0x55)), -8},
		{"decode A 0xAA", int(DecodeALaw(0xAA)), 32256},
		{"decode A 0x2A", int(DecodeALaw(0x2A)), -32256},
		{"decode µ 0xFF", int(DecodeULaw(0xFF)), 0},
		{"decode µ 0x80", int(DecodeULaw(0x80)), 32124},
		{"decode µ 0x00", int(DecodeULaw(0x00)), -32124},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// TestG711Idempotent: a decoded value encodes back to its own code, which
// is what makes repeated transcoding through G.711 lossless after the first
// pass.
func TestG711Idempotent(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		if got := EncodeALaw(DecodeALaw(byte(c))); got != byte(c) {
			t.Errorf("A-law %#x -> %d -> %#x", c, DecodeALaw(byte(c)), got)
		}
		u := byte(c)
		if u == 0x7F { // µ-law's negative zero decodes to 0, which is +0
			continue
		}
		if got := EncodeULaw(DecodeULaw(u)); got != u {
			t.Errorf("µ-law %#x -> %d -> %#x", c, DecodeULaw(u), got)
		}
	}
}

func TestG711SNR(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  []int16
	}{
		{"1 kHz at -6 dBFS", tone(1000, 16000, 8000, 8000)},
		{"sweep 100-3400 Hz at -10 dBFS", sweep(100, 3400, 10000, 8000, 8000)},
	} {
		a, u := make([]int16, len(c.sig)), make([]int16, len(c.sig))
		for i, v := range c.sig {
			a[i] = DecodeALaw(EncodeALaw(v))
			u[i] = DecodeULaw(EncodeULaw(v))
		}
		// G.711's signal-to-quantisation-noise ratio is about 38 dB over
		// most of its range.
		sa, su := snr(c.sig, a, 0, 0), snr(c.sig, u, 0, 0)
		t.Logf("%s: A-law %.1f dB, µ-law %.1f dB", c.name, sa, su)
		if sa < 35 || su < 35 {
			t.Errorf("%s: A-law %.1f dB, µ-law %.1f dB, want >= 35", c.name, sa, su)
		}
	}
}

// TestG711Convert: PCMA <-> PCMU through the tables loses no more than
// encoding the decoded value would, and keeps the sign.
func TestG711Convert(t *testing.T) {
	t.Parallel()
	sig := sweep(100, 3400, 12000, 8000, 8000)
	viaU, viaA := make([]int16, len(sig)), make([]int16, len(sig))
	for i, v := range sig {
		viaU[i] = DecodeULaw(ALawToULaw(EncodeALaw(v)))
		viaA[i] = DecodeALaw(ULawToALaw(EncodeULaw(v)))
	}
	su, sa := snr(sig, viaU, 0, 0), snr(sig, viaA, 0, 0)
	t.Logf("PCMA->PCMU %.1f dB, PCMU->PCMA %.1f dB", su, sa)
	if su < 33 || sa < 33 {
		t.Errorf("PCMA->PCMU %.1f dB, PCMU->PCMA %.1f dB, want >= 33", su, sa)
	}
	for c := range 256 {
		if a, u := DecodeALaw(byte(c)), DecodeULaw(ALawToULaw(byte(c))); (a < 0) != (u < 0) {
			t.Errorf("A %#x (%d) -> µ %d: sign flipped", c, a, u)
		}
		if u, a := DecodeULaw(byte(c)), DecodeALaw(ULawToALaw(byte(c))); (a < 0) != (u < 0) && u != 0 {
			t.Errorf("µ %#x (%d) -> A %d: sign flipped", c, u, a)
		}
	}
}

func g722RoundTrip(sig []int16) []int16 {
	enc, dec := NewG722Encoder(), NewG722Decoder()
	code := make([]byte, len(sig)/2)
	out := make([]int16, len(sig))
	// Frame by frame, as RTP carries it: 20 ms is 320 samples.
	for i := 0; i+320 <= len(sig); i += 320 {
		n := enc.Encode(code, sig[i:i+320])
		dec.Decode(out[i:i+320], code[:n])
	}
	return out
}

// g722Delay is what the transmit and receive QMF together delay the signal
// by, in 16 kHz samples.
const g722Delay = 22

// TestG722SNR: G.722 at 64 kbit/s keeps a tone or a speech-band sweep well
// above telephone quality.
func TestG722SNR(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  []int16
		min  float64
	}{
		{"1 kHz at -6 dBFS", tone(1000, 16000, 16000, 16000), 25},
		{"5 kHz at -12 dBFS (high band)", tone(5000, 8000, 16000, 16000), 12},
		{"sweep 100-7000 Hz at -10 dBFS", sweep(100, 7000, 10000, 16000, 32000), 20},
	} {
		got := snr(c.sig, g722RoundTrip(c.sig), g722Delay, 800)
		t.Logf("%s: %.1f dB", c.name, got)
		if got < c.min {
			t.Errorf("%s: %.1f dB, want >= %.0f dB", c.name, got, c.min)
		}
	}
}

// TestG722Silence: digital silence stays near silence (no idle tones
// from the adaptation).
func TestG722Silence(t *testing.T) {
	t.Parallel()
	out := g722RoundTrip(make([]int16, 3200))
	for i, v := range out {
		if v > 8 || v < -8 {
			t.Fatalf("sample %d = %d from silence", i, v)
		}
	}
}

// resampleDelay is what the Downsampler and the Upsampler together delay
// the signal by, in 16 kHz samples.
const resampleDelay = 61

// TestResampleRoundTrip: down to 8 kHz and back keeps what lies below
// 3.4 kHz.
func TestResampleRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		sig  []int16
	}{
		{"1 kHz", tone(1000, 16000, 16000, 16000)},
		{"sweep", sweep(100, 3400, 12000, 16000, 32000)},
	} {
		var d Downsampler
		var u Upsampler
		mid := make([]int16, len(c.sig)/2)
		out := make([]int16, len(c.sig))
		for i := 0; i+320 <= len(c.sig); i += 320 {
			d.Process(mid[i/2:i/2+160], c.sig[i:i+320])
			u.Process(out[i:i+320], mid[i/2:i/2+160])
		}
		got := snr(c.sig, out, resampleDelay, 200)
		t.Logf("%s: %.1f dB", c.name, got)
		if got < 50 {
			t.Errorf("%s: %.1f dB, want >= 50 dB", c.name, got)
		}
		if _, lag := bestSNR(c.sig, out, 80, 200); c.name == "sweep" && lag != resampleDelay {
			t.Errorf("delay %d samples, want %d", lag, resampleDelay)
		}
	}
}

// TestDownsampleRejects: a 4.8 kHz tone, which would alias to 3.2 kHz, is
// removed, not folded onto the narrowband channel.
func TestDownsampleRejects(t *testing.T) {
	t.Parallel()
	sig := tone(4800, 16000, 16000, 16000)
	var d Downsampler
	out := make([]int16, len(sig)/2)
	d.Process(out, sig)
	var in, res float64
	for _, v := range sig {
		in += float64(v) * float64(v)
	}
	for _, v := range out[100:] {
		res += float64(v) * float64(v)
	}
	in /= float64(len(sig))
	res /= float64(len(out) - 100)
	att := 10 * math.Log10(in/res)
	t.Logf("4.8 kHz attenuated by %.1f dB", att)
	if att < 60 {
		t.Errorf("4.8 kHz attenuated by %.1f dB, want >= 60", att)
	}
}

// TestCodecsAllocateNothing: the relay calls these per packet. It is not
// parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestCodecsAllocateNothing(t *testing.T) {
	pcm16 := tone(1000, 8000, 16000, 320)
	pcm8 := make([]int16, 160)
	code := make([]byte, 160)
	enc, dec := NewG722Encoder(), NewG722Decoder()
	var d Downsampler
	var u Upsampler
	if n := testing.AllocsPerRun(100, func() {
		enc.Encode(code, pcm16)
		dec.Decode(pcm16, code)
		d.Process(pcm8, pcm16)
		u.Process(pcm16, pcm8)
		for i, v := range pcm8 {
			code[i] = ALawToULaw(EncodeALaw(v))
		}
	}); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

// TestG722Delay: on a sweep, which has no period to alias the lag, the
// output lines up with the input exactly g722Delay samples later.
func TestG722Delay(t *testing.T) {
	t.Parallel()
	sig := sweep(100, 7000, 10000, 16000, 32000)
	if _, lag := bestSNR(sig, g722RoundTrip(sig), 40, 800); lag != g722Delay {
		t.Fatalf("delay %d samples, want %d", lag, g722Delay)
	}
}

// TestG722Stable pins the encoder's code words and the decoder's samples
// for a full-band sweep: an optimisation must not change one bit, since a
// G.722 peer's decoder tracks our encoder's predictor exactly. The hash
// was taken from the straightforward transcription of the recommendation's
// blocks.
func TestG722Stable(t *testing.T) {
	t.Parallel()
	sig := sweep(50, 7900, 20000, 16000, 64000)
	code := make([]byte, len(sig)/2)
	NewG722Encoder().Encode(code, sig)
	h := sha256.New()
	h.Write(code)
	for _, v := range g722RoundTrip(sig) {
		h.Write([]byte{byte(v), byte(v >> 8)})
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != "d2b9cef67c2d2596512bf0076643581e2666a9dac38cc2a1f050bbc77e421a4b" {
		t.Fatalf("G.722 output changed: %s", got)
	}
}
