package web

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/rtpproxyctl/relay"
)

type builtinOnly relay.Stats

func (b builtinOnly) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(b, ch) }
func (b builtinOnly) Collect(ch chan<- prometheus.Metric) { collectBuiltin(ch, relay.Stats(b)) }

// TestMetricsTranscoder: the built-in relay's transcoder counts appear per
// encoding and direction, and the streams converting now per audio
// encoding (not for CN, which is never converted).
func TestMetricsTranscoder(t *testing.T) {
	t.Parallel()
	st := builtinOnly{Transcoder: []relay.CodecStats{{Codec: "PCMA", In: 5, Out: 2, Discarded: 1, Reading: 3, Writing: 1}, {Codec: "CN", In: 4}}}
	want := `
# HELP tollgate_builtin_relay_transcoder_packets_total RTP packets through the built-in relay's transcoder by encoding: in (received in it, converted or renumbered), out (sent in it), discarded (the receiving party did not list it).
# TYPE tollgate_builtin_relay_transcoder_packets_total counter
tollgate_builtin_relay_transcoder_packets_total{codec="PCMA",direction="discarded"} 1
tollgate_builtin_relay_transcoder_packets_total{codec="PCMA",direction="in"} 5
tollgate_builtin_relay_transcoder_packets_total{codec="PCMA",direction="out"} 2
tollgate_builtin_relay_transcoder_packets_total{codec="CN",direction="discarded"} 0
tollgate_builtin_relay_transcoder_packets_total{codec="CN",direction="in"} 4
tollgate_builtin_relay_transcoder_packets_total{codec="CN",direction="out"} 0
# HELP tollgate_builtin_relay_transcoder_streams Streams the built-in relay converts now, by audio encoding: reading (decoding it) and writing (encoding it), SEMS's P-Transcoder-Stats-In/Out.
# TYPE tollgate_builtin_relay_transcoder_streams gauge
tollgate_builtin_relay_transcoder_streams{codec="PCMA",direction="reading"} 3
tollgate_builtin_relay_transcoder_streams{codec="PCMA",direction="writing"} 1
`
	if err := testutil.CollectAndCompare(st, strings.NewReader(want), "tollgate_builtin_relay_transcoder_packets_total", "tollgate_builtin_relay_transcoder_streams"); err != nil {
		t.Fatal(err)
	}
}
