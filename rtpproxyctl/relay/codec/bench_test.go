package codec

import "testing"

// The benchmarks work on one 20 ms frame, what one RTP packet carries:
// ns/op is the cost per frame per direction.

func BenchmarkG722Encode(b *testing.B) {
	pcm := tone(1000, 12000, 16000, 320)
	code := make([]byte, 160)
	e := NewG722Encoder()
	b.ReportAllocs()
	for b.Loop() {
		e.Encode(code, pcm)
	}
}

func BenchmarkG722Decode(b *testing.B) {
	code := make([]byte, 160)
	NewG722Encoder().Encode(code, tone(1000, 12000, 16000, 320))
	pcm := make([]int16, 320)
	d := NewG722Decoder()
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(pcm, code)
	}
}

func BenchmarkALawEncodeDecode(b *testing.B) {
	pcm := tone(1000, 12000, 8000, 160)
	code := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		for i, v := range pcm {
			code[i] = EncodeALaw(v)
		}
		for i, c := range code {
			pcm[i] = DecodeALaw(c)
		}
	}
}

func BenchmarkALawToULaw(b *testing.B) {
	code := make([]byte, 160)
	for i := range code {
		code[i] = byte(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, c := range code {
			code[i] = ALawToULaw(c)
		}
	}
}

func BenchmarkDownsample(b *testing.B) {
	in := tone(1000, 12000, 16000, 320)
	out := make([]int16, 160)
	var d Downsampler
	b.ReportAllocs()
	for b.Loop() {
		d.Process(out, in)
	}
}

func BenchmarkUpsample(b *testing.B) {
	in := tone(1000, 12000, 8000, 160)
	out := make([]int16, 320)
	var u Upsampler
	b.ReportAllocs()
	for b.Loop() {
		u.Process(out, in)
	}
}
