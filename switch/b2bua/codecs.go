package b2bua

import (
	"bytes"
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

// negotiated records the codecs the two legs agreed in one offer/answer
// relayed across the switch: offer1/answer1 as leg 1 saw them (the caller
// when caller1), offer2/answer2 as the other leg did. When the switch passed
// both unchanged (no relay, no SDP edit: the common case) the legs agree and
// the SDP is read once. An exchange that tells nothing (no SDP, unreadable,
// all streams disabled) leaves a leg's codec as it was.
func (c *Call) negotiated(caller1 bool, offer1, answer1, offer2, answer2 []byte) {
	codec1 := negotiatedCodec(offer1, answer1)
	codec2 := codec1
	if !bytes.Equal(offer1, offer2) || !bytes.Equal(answer1, answer2) {
		codec2 = negotiatedCodec(offer2, answer2)
	}
	codecA, codecB := codec1, codec2
	if !caller1 {
		codecA, codecB = codec2, codec1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if codecA != "" {
		c.codecA = codecA
	}
	if codecB != "" {
		c.codecB = codecB
	}
}

// negotiatedCodec is the codec of the first active audio stream of
// answer that offer's stream of the same position also lists (by name, or
// by payload type for unnamed ones); the answer's first codec when the
// offer is unreadable or lists none of them. The name is a copy: the call
// keeps it while it is up, and a substring would keep the whole answer.
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
					return strings.Clone(c.Name)
				}
			}
		}
		return strings.Clone(first)
	}
	return ""
}
