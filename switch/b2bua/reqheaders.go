package b2bua

import "github.com/emiago/sipgo/sip"

// requestHeaders are the headers every request the switch sends in a
// dialog carries, allocated together. sipgo takes each header as a pointer
// of its own, so building them one by one cost a dozen allocations per
// request (a header, its parameter list, the Call-ID and Max-Forwards
// copied out to the heap); in one block they cost one, and the block lives
// exactly as long as the request does. The parameter lists are cut from
// params with their capacity capped, so a parameter added later (sipgo
// adds received and rport to a Via it answers) grows its own list instead
// of writing over its neighbour's.
type requestHeaders struct {
	via    sip.ViaHeader
	from   sip.FromHeader
	to     sip.ToHeader
	callID sip.CallIDHeader
	cseq   sip.CSeqHeader
	maxFwd sip.MaxForwardsHeader
	length sip.ContentLengthHeader
	// params backs the Via's branch and rport, the From tag and the To tag.
	params [4]sip.HeaderKV
}
