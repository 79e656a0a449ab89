package b2bua

import (
	"github.com/tollgate/tollgate/config"
)

// hopMedia sets the media anchoring of the attempt about to start. A
// RADIUS route's rtpp=0|1 decides for its gateway, as in Sippy B2BUA:
// rtpp=0 sends it the caller's own SDP (a relay session the call has is
// deleted first), rtpp=1 anchors the media even when the call's mode is
// none — on the switch's media mode, else on whichever relay runs (one must
// run: media.mode, or a route or profile using it). Without rtpp the call's
// own mode applies again, so a route after an rtpp=0 one is anchored as
// usual. A relay that cannot be used leaves that gateway's media
// unanchored rather than failing it.
func (c *Call) hopMedia(h hop) {
	c.mu.Lock()
	anchored, mode := c.media != nil, c.route.Media
	c.mu.Unlock()
	want := mode != "" && mode != config.MediaNone
	if rr := h.radius; rr != nil && rr.RTPP != nil {
		want = *rr.RTPP
	}
	switch {
	case !want && anchored:
		c.dropMedia()
	case want && !anchored:
		if c.sw.media.pool(mode) == nil {
			mode = c.sw.Config().Media.Mode
		}
		if c.sw.media.pool(mode) == nil {
			mode = c.sw.media.running()
		}
		if mode == "" {
			c.sw.log.Warn("route asks rtpp=1 but no media relay runs: media not anchored", "call", c.ID, "gateway", h.gw.Address)
			return
		}
		if err := c.openMedia(mode); err != nil {
			c.sw.log.Warn("media not anchored for this gateway", "call", c.ID, "gateway", h.gw.Address, "error", err)
		}
	}
}
