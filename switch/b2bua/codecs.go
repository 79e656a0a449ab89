package b2bua

import (
	"strings"

	"github.com/tollgate/tollgate/switch/sdpedit"
)

// The codec a leg negotiated, for the CDR's codec_a and codec_b: the
// answer's first audio codec that its offer also listed (RFC 3264: the
// offerer may send any codec of the answer it offered, and both ends use
// the first), telephone-event and comfort noise left out. It is read from
// the offer and answer each leg saw, in every media mode: with a
// transcoding relay the two legs' codecs differ, and without a relay the
// SDP is parsed for this alone, once per answer (never on the way to the
// gateway). A later offer/answer on the leg (re-INVITE, UPDATE) replaces it.

// negotiated records the codec leg A (caller) or B agreed in one offer and
// answer; an exchange that tells nothing (no SDP, unreadable, all streams
// disabled) leaves the codec as it was.
func (c *Call) negotiated(caller bool, offer, answer []byte) {
	codec := negotiatedCodec(offer, answer)
	if codec == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if caller {
		c.codecA = codec
	} else {
		c.codecB = codec
	}
}

// negotiatedCodec is the codec of the first active audio stream of
// answer that offer's stream of the same position also lists (by name, or
// by payload type for unnamed ones); the answer's first codec when the
// offer is unreadable or lists none of them.
func negotiatedCodec(offer, answer []byte) string {
	if len(answer) == 0 {
		return ""
	}
	a, err := sdpedit.Parse(answer)
	if err != nil {
		return ""
	}
	o, _ := sdpedit.Parse(offer)
	for i := range a.NumMedia() {
		m := a.Media(i)
		if !m.Active() || !m.IsRTP() || m.Type != "audio" {
			continue
		}
		var offered []sdpedit.Codec
		if o != nil && i < o.NumMedia() {
			offered = o.Codecs(i)
		}
		first := ""
		for _, c := range a.Codecs(i) {
			if c.Name == "" || strings.EqualFold(c.Name, "telephone-event") || strings.EqualFold(c.Name, "CN") {
				continue
			}
			if first == "" {
				first = c.Name
			}
			for _, oc := range offered {
				if strings.EqualFold(oc.Name, c.Name) {
					return c.Name
				}
			}
		}
		return first
	}
	return ""
}
