package b2bua

import (
	"github.com/tollgate/tollgate/config"
)

// hopMode is the media mode of an attempt at hop h: its gateway's media
// when set, else the call's (the profile's, else the route's, else
// media.mode), so that a gateway that must see the caller's own SDP, or
// must be anchored, gets it whatever route or profile reached it.
func (c *Call) hopMode(h hop) string {
	if h.gw.Media != "" {
		return h.gw.Media
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.route.Media
}

// hopMedia sets the media anchoring of the attempt about to start, which
// may differ from the previous attempt's: the hop's mode (hopMode) decides,
// and a call anchored on one relay whose next gateway asks for the other
// is moved to a new session on that one. A RADIUS route's rtpp=0|1 decides
// for its gateway, as in Sippy B2BUA: rtpp=0 sends it the caller's own SDP
// (a relay session the call has is deleted first), rtpp=1 anchors the
// media even when the call's mode is none — on the switch's media mode,
// else on whichever relay runs (one must run: media.mode, or a route,
// profile or gateway using it). Without rtpp the call's own mode applies
// again, so a route after an rtpp=0 one is anchored as usual. A relay that
// cannot be used leaves that gateway's media unanchored rather than
// failing it.
func (c *Call) hopMedia(h hop) {
	mode := c.hopMode(h)
	c.mu.Lock()
	anchoredOn := ""
	if c.media != nil {
		anchoredOn = c.media.name
	}
	c.mu.Unlock()
	want := mode != "" && mode != config.MediaNone
	if rr := h.radius; rr != nil && rr.RTPP != nil {
		want = *rr.RTPP
	}
	if want && h.gw.Media != "" && anchoredOn != "" && anchoredOn != mode && c.sw.media.pool(mode) != nil {
		c.dropMedia() // the gateway asks for the other relay
		anchoredOn = ""
	}
	switch {
	case !want && anchoredOn != "":
		c.dropMedia()
	case want && anchoredOn == "":
		if c.sw.media.pool(mode) == nil {
			mode = c.sw.Config().Media.Mode
		}
		if c.sw.media.pool(mode) == nil {
			mode = c.sw.media.running()
		}
		if mode == "" {
			c.sw.log.Warn("gateway or route asks for media anchoring but no media relay runs: media not anchored",
				"call", c.ID, "gateway", h.gw.Address)
			return
		}
		if err := c.openMedia(mode); err != nil {
			c.sw.log.Warn("media not anchored for this gateway", "call", c.ID, "gateway", h.gw.Address, "error", err)
		}
	}
}
