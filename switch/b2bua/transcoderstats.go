package b2bua

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// CodecUse is how many streams a relay's transcoder reads (decodes) and
// writes (encodes) with one codec now.
type CodecUse struct {
	Codec            string
	Reading, Writing int64
}

// transcoderStatsHeaders are the headers of an OPTIONS reply that tell the
// transcoder's use, as the SEMS SBC's options_transcoder_in_stats_hdr and
// options_transcoder_out_stats_hdr add them: "pcmu=0,pcma=1,g722=0",
// lower-case codec names, the streams reading (In) or writing (Out) each.
// A front proxy probing the switch with OPTIONS sees its transcoding load.
// None without a header name configured or a transcoding relay.
func (s *Switch) transcoderStatsHeaders() []sip.Header {
	cfg := s.Config().SIP
	if s.transcoderUse == nil || (cfg.OptionsTranscoderInStatsHdr == "" && cfg.OptionsTranscoderOutStatsHdr == "") {
		return nil
	}
	use := s.transcoderUse()
	format := func(n func(CodecUse) int64) string {
		var b strings.Builder
		for i, c := range use {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.ToLower(c.Codec) + "=" + strconv.FormatInt(n(c), 10))
		}
		return b.String()
	}
	var out []sip.Header
	if h := cfg.OptionsTranscoderInStatsHdr; h != "" {
		out = append(out, sip.NewHeader(h, format(func(c CodecUse) int64 { return c.Reading })))
	}
	if h := cfg.OptionsTranscoderOutStatsHdr; h != "" {
		out = append(out, sip.NewHeader(h, format(func(c CodecUse) int64 { return c.Writing })))
	}
	return out
}
