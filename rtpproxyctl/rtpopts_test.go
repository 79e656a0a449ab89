package rtpproxyctl

import "testing"

func TestRTPOptionsSub(t *testing.T) {
	for _, tc := range []struct {
		o    RTPOptions
		want string
	}{
		{RTPOptions{}, ""},
		{RTPOptions{DTMFFilter: true, EventPT: 101}, " && O dtmf_filter te=101"},
		{RTPOptions{DTMFDetect: true}, " && O dtmf_detect"},
		{RTPOptions{Symmetric: true, RewriteSSRC: true, RewriteSeqno: true, EventPT: 101, MaxPacketRate: 60, MaxByteRate: 16000},
			" && O symmetric rewrite_ssrc rewrite_seqno max_pkt_rate=60 max_byte_rate=16000"},
	} {
		if got := tc.o.sub(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
	}
}
