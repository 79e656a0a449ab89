package codec

import "math"

// Resampling between 16 kHz (G.722) and 8 kHz (G.711) by a factor of two,
// with one low-pass filter for both directions: a 63-tap half-band FIR,
// a Kaiser-windowed sinc cut at 4 kHz. Decimating without it folds 4-8 kHz
// of wideband speech back onto the narrowband channel as audible aliasing;
// interpolating without it leaves a mirror image of the narrowband signal
// above 4 kHz. Half the taps of a half-band filter are zero, and the
// windowing (beta 7) keeps the stopband below about -70 dB, so 3.4 kHz, the
// top of the telephone band, passes flat.

const (
	halfTaps  = 31             // taps on each side of the centre
	filterLen = 2*halfTaps + 1 // 63
	chunk     = 256            // input samples filtered per pass
)

// lowpass is the filter, normalised to unity gain at DC.
var lowpass = func() [filterLen]float32 {
	const beta = 7.0
	var h [filterLen]float64
	var sum float64
	for i := range h {
		n := float64(i - halfTaps)
		sinc := 0.5
		if n != 0 {
			sinc = math.Sin(math.Pi*n/2) / (math.Pi * n)
		}
		r := n / halfTaps
		h[i] = sinc * bessel0(beta*math.Sqrt(1-r*r)) / bessel0(beta)
		sum += h[i]
	}
	var out [filterLen]float32
	for i := range h {
		out[i] = float32(h[i] / sum)
	}
	return out
}()

// bessel0 is the modified Bessel function of the first kind, order zero,
// which the Kaiser window is made of.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func toInt16(v float32) int16 {
	if v >= 32767 {
		return 32767
	}
	if v <= -32768 {
		return -32768
	}
	return int16(math.Round(float64(v)))
}

// Downsampler halves the sample rate (16 kHz to 8 kHz). It keeps the
// filter's history between calls, so a stream fed frame by frame comes out
// as if filtered whole; its delay is halfTaps input samples. The zero value
// is ready.
type Downsampler struct {
	buf [filterLen - 1 + chunk]float32 // history, then the chunk in work
}

// Process filters src (16 kHz; its length should be even, an odd last
// sample is ignored) into dst and returns the samples written,
// len(src)/2. dst must hold that many.
func (d *Downsampler) Process(dst []int16, src []int16) int {
	const hist = filterLen - 1
	n := len(src) / 2
	src = src[:2*n]
	out := 0
	for len(src) > 0 {
		c := min(len(src), chunk)
		for i, v := range src[:c] {
			d.buf[hist+i] = float32(v)
		}
		for j := 0; j < c/2; j++ {
			// The window ending at the second sample of the pair.
			w := d.buf[2*j+1 : 2*j+1+filterLen]
			var acc float32
			acc += lowpass[halfTaps] * w[halfTaps]
			// Symmetric taps, and the even offsets from the centre are
			// zero in a half-band filter: 16 products per output.
			for k := 1; k <= halfTaps; k += 2 {
				acc += lowpass[halfTaps+k] * (w[halfTaps+k] + w[halfTaps-k])
			}
			dst[out] = toInt16(acc)
			out++
		}
		copy(d.buf[:hist], d.buf[c:c+hist])
		src = src[c:]
	}
	return out
}

// Upsampler doubles the sample rate (8 kHz to 16 kHz), with the same
// filter; its delay is halfTaps output samples. The zero value is ready.
type Upsampler struct {
	buf [halfTaps + chunk]float32 // history, then the chunk in work
}

// Process interpolates src (8 kHz) into dst and returns the samples
// written, 2*len(src). dst must hold that many.
func (u *Upsampler) Process(dst []int16, src []int16) int {
	const hist = halfTaps
	out := 0
	for len(src) > 0 {
		c := min(len(src), chunk)
		for i, v := range src[:c] {
			u.buf[hist+i] = float32(v)
		}
		for m := range c {
			t := hist + m // the newest input sample
			// Zero-stuffing leaves output 2m to the even-indexed taps and
			// output 2m+1 to the odd ones, of which a half-band filter has
			// only the centre. Each phase's gain is one half, so it is
			// doubled.
			// The filter is symmetric (tap k equals tap 62-k), so the even
			// phase folds to 16 products.
			var even float32
			w := u.buf[t-halfTaps : t+1]
			for k := 0; k < halfTaps; k += 2 {
				even += lowpass[k] * (w[halfTaps-k/2] + w[k/2])
			}
			dst[out] = toInt16(2 * even)
			dst[out+1] = toInt16(2 * lowpass[halfTaps] * u.buf[t-halfTaps/2])
			out += 2
		}
		copy(u.buf[:hist], u.buf[c:c+hist])
		src = src[c:]
	}
	return out
}
