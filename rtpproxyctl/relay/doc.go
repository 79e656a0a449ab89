// Package relay is Tollgate's built-in RTP relay. It anchors media on one
// RTP+RTCP port pair per call leg, latches onto the peers' real addresses
// (NAT), counts packets, loss and jitter per direction, and answers the Sippy
// rtpproxy control protocol so that Tollgate's own B2BUA, Kamailio's or
// OpenSIPS's rtpproxy module or Sippy B2BUA can drive it over UDP, unix or TCP
// sockets, or in-process through Relay.Handle. Told the codecs of both
// parties (Tollgate's T sub-command, see README.md), it transcodes between
// them with the codecs of its codec package.
//
// The protocol and the relay behaviour follow the facts gathered from
// rtpproxy 3.2.0 in the project's specs/rtpproxy-protocol.md; section numbers
// in comments refer to that document.
package relay
