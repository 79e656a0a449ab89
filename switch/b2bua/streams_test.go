package b2bua

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/rtpproxyctl"
	"github.com/tollgate/tollgate/switch/sdpedit"
)

// TestStreamsRoundTrip is the switch's media path for one offer: parse,
// list the anchorable streams, rewrite with the relay's endpoints. T.38
// and the disabled stream pass through.
func TestStreamsRoundTrip(t *testing.T) {
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:4001\r\n" +
		"m=video 0 RTP/AVP 31\r\n" +
		"m=image 4004 udptl t38\r\n"
	sd, err := sdpedit.ParseString(body)
	if err != nil {
		t.Fatal(err)
	}
	streams := anchorableStreams(sd, netip.Addr{})
	if len(streams) != 1 || streams[0].Index != 0 || streams[0].Port != 4000 || fmt.Sprint(streams[0].PayloadTypes) != "[8 101]" ||
		streams[0].ClockRate != 8000 || streams[0].Addr != netip.MustParseAddr("192.0.2.9") {
		t.Fatalf("streams %+v", streams)
	}
	eps := []rtpproxyctl.Endpoint{{Addr: netip.MustParseAddr("127.0.0.1"), Port: 30000}}
	if err := rewriteStreams(sd, streams, eps); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("c=IN IP4 192.0.2.9", "c=IN IP4 127.0.0.1", "m=audio 4000", "m=audio 30000", "a=rtcp:4001", "a=rtcp:30001",
		"m=image 4004 udptl t38\r\n", "m=image 4004 udptl t38\r\nc=IN IP4 192.0.2.9\r\n").Replace(body)
	if got := sd.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
