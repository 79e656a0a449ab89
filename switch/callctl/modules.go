package callctl

import "github.com/tollgate/tollgate/config"

// table is every module, in the order its hooks run: refusals first (no
// work for a call refused), then the filters, then what rewrites the
// messages (addresses and headers, then the SDP's codecs before the
// anonymisation of the body as sent and the alteration of hold offers),
// then reply translation and the
// timer. A module's build returns nil when the profile does not use it.
// Adding a module is one file and one line here.
var table = []struct {
	name  string
	build func(p *config.Profile) Module
}{
	{"refuse_with", newRefuse},
	{"limit", newLimit},
	{"p_callcontrol", newPCallControl},
	{"message_filter", newMessageFilter},
	{"rewrite", newRewrite},
	{"call_id", newCallID},
	{"headers", newHeaders},
	{"mime_filter", newMIMEFilter},
	{"codec_filter", newCodecFilter},
	{"transcoder", newTranscoder},
	{"codec_preference", newCodecPreference},
	{"sdp_anonymize", newAnonymize},
	{"hold", newHold},
	{"reply_translate", newReplyTranslate},
	{"call_timer", newCallTimer},
}
