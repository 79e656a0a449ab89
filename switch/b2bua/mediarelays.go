package b2bua

import (
	"fmt"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/rtpproxyctl"
)

// RelayPool opens one media session per call on a pool of relays
// (rtpproxyctl.Pool satisfies it). The switch declares it rather than
// build pools itself: cmd/tollgate starts the relays, so the call core
// depends on neither the built-in relay nor how pools are configured.
type RelayPool interface {
	Open(d rtpproxyctl.Dialog) rtpproxyctl.MediaRelay
}

// MediaRelays are the pools a switch anchors calls on, by media mode
// (config.MediaRTPProxy, config.MediaBuiltin). A mode without a pool is a
// relay that is not running. The relays report a session whose media
// stopped to Switch.MediaTimedOut.
type MediaRelays map[string]RelayPool

func (m MediaRelays) pool(mode string) RelayPool { return m[mode] }

// running names a media mode whose relay runs, the built-in one first; ""
// when none does.
func (m MediaRelays) running() string {
	for _, mode := range []string{config.MediaBuiltin, config.MediaRTPProxy} {
		if m.pool(mode) != nil {
			return mode
		}
	}
	return ""
}

// useMedia attaches the relays to the switch, refusing a configuration
// whose routes need a relay that is not running.
func (s *Switch) useMedia(cfg *config.Config, m MediaRelays) error {
	for _, mode := range []string{config.MediaRTPProxy, config.MediaBuiltin} {
		if cfg.UsesMedia(mode) && m.pool(mode) == nil {
			return fmt.Errorf("b2bua: the configuration anchors media with %q but that relay is not running", mode)
		}
	}
	s.media = m
	return nil
}

// checkMediaReload warns when a reloaded configuration needs a relay that
// was not started: relays start with the process, and calls routed to a
// missing one are refused with 503.
func (s *Switch) checkMediaReload(cfg *config.Config) {
	for _, mode := range []string{config.MediaRTPProxy, config.MediaBuiltin} {
		if cfg.UsesMedia(mode) && s.media.pool(mode) == nil {
			s.log.Warn("reloaded configuration anchors media on a relay that is not running; restart to start it", "mode", mode)
		}
	}
}
