// Package codec holds the voice codecs the built-in relay transcodes
// between: G.711 A-law and µ-law, G.722 (SB-ADPCM at 64 kbit/s) and the
// 16 kHz <-> 8 kHz resampling that joins wideband to narrowband. They are
// written from the public ITU-T recommendations, work on caller-owned
// buffers and allocate nothing, so that the relay's packet path stays free
// of garbage.
package codec
