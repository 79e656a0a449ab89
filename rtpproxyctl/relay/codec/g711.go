package codec

// G.711 (ITU-T, 1988): 8-bit logarithmic companding of 13-bit (A-law) or
// 14-bit (µ-law) linear samples. Samples here are 16-bit linear PCM, the
// scale every other part of the relay works in; the low bits the law
// cannot carry are dropped on encode and left zero on decode.

// aLawSegEnd are the upper bounds of the eight A-law segments on the 13-bit
// magnitude.
var aLawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}

// uLawSegEnd are the upper bounds of the eight µ-law segments on the biased
// 14-bit magnitude.
var uLawSegEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}

const (
	uLawBias = 0x84 // added before the segment search, on the 16-bit scale
	uLawClip = 8159 // largest 14-bit magnitude µ-law represents
)

// EncodeALaw compresses one 16-bit linear sample to A-law, with the even
// bits inverted as G.711 transmits them.
func EncodeALaw(s int16) byte {
	pcm := int(s) >> 3
	mask := byte(0xD5)
	if pcm < 0 {
		mask = 0x55
		pcm = -pcm - 1
	}
	seg := 0
	for seg < 8 && pcm > aLawSegEnd[seg] {
		seg++
	}
	if seg == 8 {
		return 0x7F ^ mask
	}
	v := byte(seg << 4)
	if seg < 2 {
		v |= byte(pcm>>1) & 0x0F
	} else {
		v |= byte(pcm>>seg) & 0x0F
	}
	return v ^ mask
}

// DecodeALaw expands one A-law byte to the middle of its quantisation
// interval, on the 16-bit scale.
func DecodeALaw(a byte) int16 { return aLawTable[a] }

// EncodeULaw compresses one 16-bit linear sample to µ-law.
func EncodeULaw(s int16) byte {
	pcm := int(s) >> 2
	mask := byte(0xFF)
	if pcm < 0 {
		mask = 0x7F
		pcm = -pcm
	}
	pcm = min(pcm, uLawClip) + uLawBias>>2
	seg := 0
	for seg < 8 && pcm > uLawSegEnd[seg] {
		seg++
	}
	if seg == 8 {
		return 0x7F ^ mask
	}
	return byte(seg<<4|(pcm>>(seg+1))&0x0F) ^ mask
}

// DecodeULaw expands one µ-law byte.
func DecodeULaw(u byte) int16 { return uLawTable[u] }

// ALawToULaw and ULawToALaw convert between the two laws without going
// through the caller: a PCMA <-> PCMU transcoder is one table look-up per
// byte.
func ALawToULaw(a byte) byte { return a2u[a] }

// ULawToALaw is the inverse direction of ALawToULaw.
func ULawToALaw(u byte) byte { return u2a[u] }

// The expansion and conversion tables are computed once, from the
// definitions above, rather than typed in: 256 entries each that cannot
// drift from the encoder.
var (
	aLawTable, uLawTable [256]int16
	a2u, u2a             [256]byte
)

func init() {
	for i := range 256 {
		aLawTable[i] = expandALaw(byte(i))
		uLawTable[i] = expandULaw(byte(i))
	}
	for i := range 256 {
		a2u[i] = nearest(aLawTable[i], &uLawTable)
		u2a[i] = nearest(uLawTable[i], &aLawTable)
	}
}

func expandALaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

func expandULaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0F)<<3 + uLawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(uLawBias - t)
	}
	return int16(t - uLawBias)
}

// nearest is the code of table whose value is closest to v, with the same
// sign: the conversion G.711's tables aim at, keeping silence silent and a
// sign never flipped.
func nearest(v int16, table *[256]int16) byte {
	best, bestErr := 0, 1<<30
	for c, w := range table {
		if (w < 0) != (v < 0) {
			continue
		}
		d := int(w) - int(v)
		if d < 0 {
			d = -d
		}
		if d < bestErr {
			best, bestErr = c, d
		}
	}
	return byte(best)
}
