package codec

// G.722 (ITU-T, 7 kHz audio coding within 64 kbit/s), the 64 kbit/s mode
// that RTP payload type 9 carries: a quadrature mirror filter splits 16 kHz
// audio into a low and a high 8 kHz sub-band, coded with 6-bit and 2-bit
// adaptive differential PCM; each 8-bit code word holds one sample pair,
// high-band bits on top. The arithmetic, tables and block names (QUANTL,
// LOGSCL, UPPOL2, ...) follow the recommendation, whose fixed-point results
// a decoder at the far end must reproduce to stay in step with our encoder.

// qmf are the 24 coefficients of the transmit and receive QMF (G.722
// table 11 ... symmetric).
var qmf = [24]int32{
	3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
	3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
}

// q6 are the decision levels of the 6-bit low-band quantiser, scaled by
// the step size det/4096.
var q6 = [31]int32{
	0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
	714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980,
	2195, 2557, 2919, 0,
}

// iln and ilp give the low-band code word of a quantiser interval for a
// negative and a positive difference.
var (
	iln = [31]uint8{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4}
	ilp = [31]uint8{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32}
)

// qm6 and qm4 are the inverse quantiser outputs for the 6-bit code (what
// the decoder reconstructs) and its 4 most significant bits (what feeds the
// predictor on both sides, so that bit errors in the two low bits, or the
// 56 and 48 kbit/s modes, keep encoder and decoder in step).
var qm6 = [64]int32{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512,
	-12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456,
	-4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360,
	-1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008,
	3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
}

var qm4 = [16]int32{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

// wl and rl42 adapt the low-band log step size; wh and rh2 the high band's.
var (
	wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
	rl42 = [16]uint8{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	wh   = [3]int32{0, -214, 798}
	rh2  = [4]uint8{2, 1, 2, 1}
)

// ilb is the antilog table of the step-size adaptation (SCALEL, SCALEH).
var ilb = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599,
	2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// qm2 are the high band's inverse quantiser outputs; ihn/ihp its code words.
var (
	qm2 = [4]int32{-7408, -1616, 7408, 1616}
	ihn = [3]uint8{0, 1, 0}
	ihp = [3]uint8{0, 3, 2}
)

// band is the ADPCM state of one sub-band: the adaptive predictor (two
// poles, six zeros) and the quantiser step size, identical in encoder and
// decoder.
type band struct {
	s, sp, sz int32    // signal estimate, and its pole and zero parts
	r         [3]int32 // reconstructed signal, r[0] newest
	a         [3]int32 // pole coefficients a[1], a[2]
	b         [7]int32 // zero coefficients b[1..6]
	d         [7]int32 // quantised differences, d[0] newest
	p         [3]int32 // partial reconstruction
	nb        int32    // log step size
	det       int32    // step size
}

func sat16(v int32) int32 { return min(max(v, -32768), 32767) }

// sat15 is the LIMIT block: reconstructed sub-band signals are 15-bit.
func sat15(v int32) int32 { return min(max(v, -16384), 16383) }

// adapt is blocks 4L/4H: reconstruct, update the predictor with the
// quantised difference dq, and compute the next signal estimate.
func (b *band) adapt(dq int32) {
	b.d[0] = dq
	b.r[0] = sat16(b.s + dq)  // RECONS
	b.p[0] = sat16(b.sz + dq) // PARREC

	// UPPOL2: the second pole.
	sg0, sg1, sg2 := b.p[0]>>15, b.p[1]>>15, b.p[2]>>15
	wd1 := sat16(b.a[1] << 2)
	wd2 := wd1
	if sg0 == sg1 {
		wd2 = -wd1
	}
	wd2 = min(wd2, 32767)
	wd3 := int32(-128)
	if sg0 == sg2 {
		wd3 = 128
	}
	wd3 += wd2 >> 7
	wd3 += (b.a[2] * 32512) >> 15
	a2 := min(max(wd3, -12288), 12288)

	// UPPOL1: the first pole, kept inside the stability triangle.
	wd1 = -192
	if sg0 == sg1 {
		wd1 = 192
	}
	a1 := sat16(wd1 + (b.a[1]*32640)>>15)
	lim := sat16(15360 - a2)
	a1 = min(max(a1, -lim), lim)

	// UPZERO, DELAYA and FILTEZ for the six zeros in one pass, from the
	// oldest tap down: each coefficient adapts by the sign correlation of
	// its old difference with dq, the difference line shifts, and the
	// zero section's estimate sums the new coefficients over it.
	step := int32(128)
	if dq == 0 {
		step = 0
	}
	sgd := dq >> 15
	var sz int32
	for i := 6; i > 0; i-- {
		w := -step
		if b.d[i]>>15 == sgd {
			w = step
		}
		bi := sat16(w + (b.b[i]*32640)>>15)
		b.b[i] = bi
		b.d[i] = b.d[i-1]
		sz += (bi * sat16(b.d[i]+b.d[i])) >> 15
	}

	// DELAYA for the poles.
	for i := 2; i > 0; i-- {
		b.r[i] = b.r[i-1]
		b.p[i] = b.p[i-1]
	}
	b.a[1], b.a[2] = a1, a2

	// FILTEP, PREDIC.
	sp := (b.a[1] * sat16(b.r[1]+b.r[1])) >> 15
	sp += (b.a[2] * sat16(b.r[2]+b.r[2])) >> 15
	b.sp = sat16(sp)
	b.sz = sat16(sz)
	b.s = sat16(b.sp + b.sz)
}

// scale is SCALEL/SCALEH: the step size from the log step size; shift is 8
// for the low band and 10 for the high band.
func (b *band) scale(shift int32) {
	wd1 := (b.nb >> 6) & 31
	wd2 := shift - b.nb>>11
	var wd3 int32
	if wd2 < 0 {
		wd3 = ilb[wd1] << -wd2
	} else {
		wd3 = ilb[wd1] >> wd2
	}
	b.det = wd3 << 2
}

// lowStep runs LOGSCL, SCALEL and the predictor for the 4-bit code ril
// (the 6-bit code's top bits).
func (b *band) lowStep(ril int) {
	dq := (b.det * qm4[ril]) >> 15 // INVQAL
	b.nb = min(max((b.nb*127)>>7+wl[rl42[ril]], 0), 18432)
	b.scale(8)
	b.adapt(dq)
}

// highStep is the same for the 2-bit high-band code.
func (b *band) highStep(ih int) {
	dq := (b.det * qm2[ih]) >> 15 // INVQAH
	b.nb = min(max((b.nb*127)>>7+wh[rh2[ih]], 0), 22528)
	b.scale(10)
	b.adapt(dq)
}

func (b *band) reset(det int32) { *b = band{det: det} }

// G722Encoder encodes 16 kHz 16-bit PCM to G.722 at 64 kbit/s. The zero
// value is not ready: use NewG722Encoder or Reset.
type G722Encoder struct {
	// The transmit QMF delay line, written twice (at p and p+24) so that
	// x[p:p+24] is always the last 24 samples, newest first, without
	// shifting the line every sample pair.
	x    [48]int32
	p    int
	low  band
	high band
}

// NewG722Encoder returns an encoder in the recommendation's reset state.
func NewG722Encoder() *G722Encoder {
	e := &G722Encoder{}
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state, as for a new stream.
func (e *G722Encoder) Reset() {
	e.x, e.p = [48]int32{}, 0
	e.low.reset(32)
	e.high.reset(8)
}

// Encode codes pcm (16 kHz; an odd last sample is ignored) into dst, one
// byte per sample pair, and returns the bytes written. dst must hold
// len(pcm)/2 bytes.
func (e *G722Encoder) Encode(dst []byte, pcm []int16) int {
	n := len(pcm) / 2
	dst = dst[:n]
	for j := range dst {
		e.p = (e.p + 22) % 24 // two samples further on
		older, newer := int32(pcm[2*j]), int32(pcm[2*j+1])
		e.x[e.p], e.x[e.p+24] = newer, newer
		e.x[e.p+1], e.x[e.p+25] = older, older
		x := e.x[e.p : e.p+24]
		// Transmit QMF: even taps on the newest sample and every second
		// one before it, odd taps on the others.
		var xa, xb int32
		for i := 0; i < 24; i += 2 {
			xa += qmf[i] * x[i]
			xb += qmf[i+1] * x[i+1]
		}
		// The filters' DC gain is 8192 (2^13); one more bit scales 16-bit
		// input to the 15-bit sub-band signals the ADPCM expects.
		xl := sat16((xa + xb) >> 14)
		xh := sat16((xa - xb) >> 14)

		// Low band: SUBTRA, QUANTL.
		el := sat16(xl - e.low.s)
		wd := el
		if el < 0 {
			wd = ^el
		}
		// The first interval whose decision level exceeds wd (30 when
		// none does); the levels rise with i, so a binary search finds it.
		i, hi := 1, 30
		for i < hi {
			m := (i + hi) / 2
			if wd < (q6[m]*e.low.det)>>12 {
				hi = m
			} else {
				i = m + 1
			}
		}
		il := ilp[i]
		if el < 0 {
			il = iln[i]
		}
		e.low.lowStep(int(il >> 2))

		// High band: SUBTRA, QUANTH.
		eh := sat16(xh - e.high.s)
		wd = eh
		if eh < 0 {
			wd = ^eh
		}
		mih := 1
		if wd >= (564*e.high.det)>>12 {
			mih = 2
		}
		ih := ihp[mih]
		if eh < 0 {
			ih = ihn[mih]
		}
		e.high.highStep(int(ih))
		dst[j] = ih<<6 | il
	}
	return n
}

// G722Decoder decodes G.722 at 64 kbit/s to 16 kHz 16-bit PCM. The zero
// value is not ready: use NewG722Decoder or Reset.
type G722Decoder struct {
	// The receive QMF delay lines of the difference and sum signals,
	// written twice as the encoder's, so that [p:p+12] is newest first.
	xd, xs [24]int32
	p      int
	low    band
	high   band
}

// NewG722Decoder returns a decoder in the recommendation's reset state.
func NewG722Decoder() *G722Decoder {
	d := &G722Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state, as for a new stream.
func (d *G722Decoder) Reset() {
	d.xd, d.xs, d.p = [24]int32{}, [24]int32{}, 0
	d.low.reset(32)
	d.high.reset(8)
}

// Decode decodes the code words in src into dst, two samples per byte, and
// returns the samples written. dst must hold 2*len(src) samples. Every
// byte is a valid code word, so no input is an error.
func (d *G722Decoder) Decode(dst []int16, src []byte) int {
	dst = dst[:2*len(src)]
	for j, code := range src {
		il := int(code & 0x3F)
		ih := int(code >> 6)

		// Low band: INVQBL, RECONS, LIMIT with the full 6-bit code.
		rl := sat15(d.low.s + (d.low.det*qm6[il])>>15)
		d.low.lowStep(il >> 2)

		// High band: INVQAH, RECONS, LIMIT.
		rh := sat15(d.high.s + (d.high.det*qm2[ih])>>15)
		d.high.highStep(ih)

		// Receive QMF: the first output sample from the difference signal
		// and the even taps, the second from the sum and the odd taps.
		d.p = (d.p + 11) % 12
		d.xd[d.p], d.xd[d.p+12] = rl-rh, rl-rh
		d.xs[d.p], d.xs[d.p+12] = rl+rh, rl+rh
		xd, xs := d.xd[d.p:d.p+12], d.xs[d.p:d.p+12]
		var o1, o2 int32
		for i := range 12 {
			o1 += qmf[2*i] * xd[i]
			o2 += qmf[2*i+1] * xs[i]
		}
		dst[2*j] = int16(sat16(o1 >> 11))
		dst[2*j+1] = int16(sat16(o2 >> 11))
	}
	return len(dst)
}
