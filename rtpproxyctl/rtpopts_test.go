package rtpproxyctl

import (
	"strings"
	"testing"
	"time"
)

func TestRTPOptionsSub(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    RTPOptions
		want string
	}{
		{RTPOptions{}, ""},
		{RTPOptions{DTMFFilter: true, EventPT: 101}, " && O dtmf_filter te=101"},
		{RTPOptions{DTMFDetect: true}, " && O dtmf_detect"},
		{RTPOptions{DTMFNotify: true, DTMFFilter: true, EventPT: 100}, " && O dtmf_filter dtmf_notify te=100"},
		{RTPOptions{Symmetric: true, RewriteSSRC: true, RewriteSeqno: true, EventPT: 101, MaxPacketRate: 60, MaxByteRate: 16000},
			" && O symmetric rewrite_ssrc rewrite_seqno max_pkt_rate=60 max_byte_rate=16000"},
	} {
		if got := tc.o.sub(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestParseDTMF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, ina, ino string
		ok             bool
	}{
		{"tg_dtmf_ina=1#9 tg_dtmf_ino=-", "1#9", "", true},
		{"tg_dtmf_ina=- tg_dtmf_ino=A*0", "", "A*0", true},
		{"tg_dtmf_ina=1x tg_dtmf_ino=-", "", "", false},
		{"tg_dtmf_ino=- tg_dtmf_ina=-", "", "", false},
		{"tg_dtmf_ina=", "", "", false},
		{"E62", "", "", false},
	} {
		ina, ino, err := ParseDTMF(tc.body)
		if (err == nil) != tc.ok || ina != tc.ina || ino != tc.ino {
			t.Errorf("%q: %q %q %v", tc.body, ina, ino, err)
		}
	}
}

func FuzzParseDTMF(f *testing.F) {
	for _, s := range []string{"tg_dtmf_ina=1#9 tg_dtmf_ino=-", "tg_dtmf_ina=- tg_dtmf_ino=-", "E8", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ina, ino, err := ParseDTMF(body)
		if err == nil && strings.Trim(ina+ino, "0123456789*#ABCD") != "" {
			t.Fatalf("%q gave digits %q %q", body, ina, ino)
		}
	})
}

func TestParseDTMFNotice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line, tag, from string
		party           int
		ev              DTMFEvent
		ok              bool
	}{
		{"tg1-4 dtmf ft;1 1 # 160", "tg1-4", "ft;1", 1, DTMFEvent{Digit: '#', Duration: 160 * time.Millisecond}, true},
		{"tg1-4 dtmf ft;1 0 D 0", "tg1-4", "ft;1", 0, DTMFEvent{Digit: 'D'}, true},
		{"tg1-4", "", "", 0, DTMFEvent{}, false},                      // a timeout
		{"tg1-4 dtmf ft;1 2 5 160", "", "", 0, DTMFEvent{}, false},    // no party 2
		{"tg1-4 dtmf ft;1 0 x 160", "", "", 0, DTMFEvent{}, false},    // not a digit
		{"tg1-4 dtmf ft;1 0 5 -1", "", "", 0, DTMFEvent{}, false},     // negative duration
		{"tg1-4 timeout ft;1 0 5 160", "", "", 0, DTMFEvent{}, false}, // another kind
		{"tg1-4 dtmf ft;1 0 55 160", "", "", 0, DTMFEvent{}, false},   // two digits
	} {
		tag, from, party, ev, ok := parseDTMFNotice(tc.line)
		if ok != tc.ok || tag != tc.tag || from != tc.from || party != tc.party || ev != tc.ev {
			t.Errorf("%q: %q %q %d %+v %v", tc.line, tag, from, party, ev, ok)
		}
	}
}
