// Package sipcheck is Tollgate's SIP front door: the checks RFC 3261 and RFC 4475 ask of a UAS
// before it does anything else with a message, which sipgo does not make.
//
// Datagram screens one raw UDP datagram before sipgo parses it (sipgo drops unparseable datagrams
// without answering), and builds the stateless 400/505/416 the sender is owed. Request screens a
// request sipgo has parsed (the only place TCP messages can be checked one by one) and says which
// response, if any, the B2BUA core must send before looking at it.
package sipcheck
