package aaa

import (
	"strconv"

	"layeh.com/radius"
)

// CiscoVendorID is Cisco's SMI enterprise number, the vendor of every h323-*
// attribute and of Cisco-AVPair.
const CiscoVendorID = 9

// VSA is the vendor type of a Cisco vendor-specific attribute.
type VSA byte

// The Cisco VSAs Tollgate sends or reads, numbered as in FreeRADIUS's
// dictionary.cisco. All of them are strings.
const (
	CiscoAVPair           VSA = 1
	H323RemoteAddress     VSA = 23
	H323ConfID            VSA = 24
	H323SetupTime         VSA = 25
	H323CallOrigin        VSA = 26
	H323CallType          VSA = 27
	H323ConnectTime       VSA = 28
	H323DisconnectTime    VSA = 29
	H323DisconnectCause   VSA = 30
	H323VoiceQuality      VSA = 31
	H323GWID              VSA = 33
	H323IncomingConfID    VSA = 35
	H323CreditAmount      VSA = 101
	H323CreditTime        VSA = 102
	H323ReturnCode        VSA = 103
	H323PromptID          VSA = 104
	H323RedirectNumber    VSA = 106
	H323PreferredLang     VSA = 107
	H323RedirectIPAddress VSA = 108
	H323BillingModel      VSA = 109
	H323Currency          VSA = 110
)

// vsaNames is the dictionary: one row per VSA, the name doubling as the
// "name=" prefix Cisco puts inside every h323-* value.
var vsaNames = map[VSA]string{
	CiscoAVPair:           "Cisco-AVPair",
	H323RemoteAddress:     "h323-remote-address",
	H323ConfID:            "h323-conf-id",
	H323SetupTime:         "h323-setup-time",
	H323CallOrigin:        "h323-call-origin",
	H323CallType:          "h323-call-type",
	H323ConnectTime:       "h323-connect-time",
	H323DisconnectTime:    "h323-disconnect-time",
	H323DisconnectCause:   "h323-disconnect-cause",
	H323VoiceQuality:      "h323-voice-quality",
	H323GWID:              "h323-gw-id",
	H323IncomingConfID:    "h323-incoming-conf-id",
	H323CreditAmount:      "h323-credit-amount",
	H323CreditTime:        "h323-credit-time",
	H323ReturnCode:        "h323-return-code",
	H323PromptID:          "h323-prompt-id",
	H323RedirectNumber:    "h323-redirect-number",
	H323PreferredLang:     "h323-preferred-lang",
	H323RedirectIPAddress: "h323-redirect-ip-address",
	H323BillingModel:      "h323-billing-model",
	H323Currency:          "h323-currency",
}

// String returns the dictionary name, or "Cisco-VSA-<n>" for a type the
// table does not know.
func (v VSA) String() string {
	if n, ok := vsaNames[v]; ok {
		return n
	}
	return "Cisco-VSA-" + strconv.Itoa(int(v))
}

// Known reports whether the dictionary has v.
func (v VSA) Known() bool {
	_, ok := vsaNames[v]
	return ok
}

// Standard attributes that layeh.com/radius's rfc packages do not name
// (draft-sterman SIP digest, as FreeRADIUS's dictionary.iana numbers them).
const (
	AttrDigestResponse   radius.Type = 206
	AttrDigestAttributes radius.Type = 207
)

// DigestSub is a Digest-Attributes sub-attribute type (draft-sterman).
type DigestSub byte

// Digest-Attributes sub-attributes.
const (
	DigestRealm      DigestSub = 1
	DigestNonce      DigestSub = 2
	DigestMethod     DigestSub = 3
	DigestURI        DigestSub = 4
	DigestQOP        DigestSub = 5
	DigestAlgorithm  DigestSub = 6
	DigestBodyDigest DigestSub = 7
	DigestCNonce     DigestSub = 8
	DigestNonceCount DigestSub = 9
	DigestUserName   DigestSub = 10
)
