package sdpedit

import "strings"

// crlf turns a readable sample into the CRLF body devices send.
func crlf(s string) string {
	return strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n")
}

// Samples as captured from the field (addresses changed to documentation
// ranges), kept verbatim otherwise: odd spacing and attribute order included.
var (
	ciscoOffer = crlf(`
v=0
o=CiscoSystemsSIP-GW-UserAgent 4127 2683 IN IP4 192.0.2.10
s=SIP Call
c=IN IP4 192.0.2.10
t=0 0
m=audio 16544 RTP/AVP 18 8 0 101 19
c=IN IP4 192.0.2.10
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:19 CN/8000
a=ptime:20
`)

	asteriskOffer = crlf(`
v=0
o=- 1718275432 1718275432 IN IP4 198.51.100.7
s=Asterisk
c=IN IP4 198.51.100.7
t=0 0
m=audio 10924 RTP/AVP 8 0 3 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
`)

	// A T.38 re-INVITE: the audio stream is disabled and m=image carries
	// the fax; pion/sdp refuses this body.
	t38ReInvite = crlf(`
v=0
o=xmserver 1056 1057 IN IP4 203.0.113.5
s=xmserver
c=IN IP4 203.0.113.5
t=0 0
m=audio 0 RTP/AVP 8
m=image 40028 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:200
a=T38FaxMaxDatagram:72
a=T38FaxUdpEC:t38UDPRedundancy
`)

	// LF-only, no final end of line, an unknown line and a blank line.
	sloppy = "v=0\no=user 1 1 IN IP4 192.0.2.20\ns=-\nc=IN IP4 192.0.2.20\nt=0 0\nx-vendor: something odd\n\nm=audio 4000 RTP/AVP 0 8\na=rtpmap:0 PCMU/8000"

	ipv6Offer = crlf(`
v=0
o=- 20518 0 IN IP6 2001:db8::10
s=-
c=IN IP6 2001:db8::10
t=0 0
m=audio 49170 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=rtcp:49171 IN IP6 2001:db8::10
`)

	// Two streams, media-level c= on video only, a=rtcp with and without
	// an address, rtcp-fb lines.
	multiStream = crlf(`
v=0
o=alice 2890844526 2890844527 IN IP4 192.0.2.30
s=call
u=http://example.com/alice
e=alice@example.com
c=IN IP4 192.0.2.30
t=0 0
m=audio 49170 RTP/AVP 0 97 101
a=rtpmap:97 iLBC/8000
a=fmtp:97 mode=30
a=rtpmap:101 telephone-event/8000
a=rtcp:49171
m=video 51372 RTP/AVPF 99 100
i=main camera
c=IN IP4 192.0.2.31
a=rtpmap:99 H264/90000
a=fmtp:99 profile-level-id=42e01f
a=rtcp-fb:99 nack
a=rtpmap:100 VP8/90000
a=rtcp-fb:100 nack pli
a=rtcp:51373 IN IP4 192.0.2.31
`)

	holdOld = crlf(`
v=0
o=- 5 6 IN IP4 192.0.2.40
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 20000 RTP/AVP 0
`)

	holdSendonly = crlf(`
v=0
o=- 5 7 IN IP4 192.0.2.40
s=-
c=IN IP4 192.0.2.40
t=0 0
a=sendonly
m=audio 20000 RTP/AVP 0
`)

	holdInactiveMedia = crlf(`
v=0
o=- 5 8 IN IP4 192.0.2.40
s=-
c=IN IP4 192.0.2.40
t=0 0
m=audio 20000 RTP/AVP 0
a=inactive
m=video 20002 RTP/AVP 31
a=sendrecv
`)
)
