package relay

import "strconv"

// ecode is an rtpproxy error code (section 2.13). The reply to a failed
// command is "E<code>".
type ecode int

const (
	eCmdUnknown   ecode = 0  // unknown command letter
	eNArgs        ecode = 1  // argument count out of range
	eMods         ecode = 2  // modifiers where none are allowed
	eSubc         ecode = 3  // bad or misplaced sub-command
	eParse        ecode = 5  // tokenizer: empty, too many tokens, NUL byte
	eDMod         ecode = 8  // unknown D modifier
	eGMod         ecode = 9  // unknown G modifier
	eNotifyTag    ecode = 10 // notify tag is not valid URL encoding
	eBridgeE      ecode = 11 // "e" without bridge mode
	eBridgeI      ecode = 12 // "i" without bridge mode
	ePtime        ecode = 13 // "z" outside 1..999
	eCodecs       ecode = 14 // "c" empty or repeated
	eLocalSyntax  ecode = 15 // "l" address syntax
	eRemoteSyntax ecode = 16 // "r" address syntax
	eIMod         ecode = 18 // unknown I modifier
	eQMod         ecode = 19 // unknown Q modifier
	eGTooBig      ecode = 25 // G reply over 1 KiB
	eQTooBig      ecode = 26 // Q reply over 1 KiB
	eLocalAddr    ecode = 31 // "l" address is not ours
	eRemoteAddr   ecode = 32 // "r": no local address of that family
	eBadMod       ecode = 35 // unknown U/L modifier
	eNoV6         ecode = 36 // no local IPv6 address
	eBadAddr      ecode = 37 // remote address or port not numeric
	eNoSession    ecode = 50 // session not found
	ePlayer       ecode = 60 // player creation failed
	eBadCounter   ecode = 62 // unknown Q counter
	eCopy         ecode = 65 // C failed
	eBadStat      ecode = 68 // unknown G stat
	eLegPorts     ecode = 71 // no ports for the second leg of an existing session
	eSessPorts    ecode = 72 // no ports for a new session
	eNotifyOff    ecode = 75 // notify arguments but no notify target configured
	eOverload     ecode = 98 // new session refused: overloaded
	eDraining     ecode = 99 // new session refused: shutting down
)

func (e ecode) reply() string { return "E" + strconv.Itoa(int(e)) }

// Error makes an ecode usable as an error, so that command handlers can
// return it through ordinary error paths.
func (e ecode) Error() string { return e.reply() }
