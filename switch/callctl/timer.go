package callctl

import (
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/config"
)

// callTimer is SEMS's call timer: the connected call is cut after a number
// of seconds, fixed or read from the INVITE (e.g. $H(P-Call-Timer)), or
// chosen by a trusted P-CallControl header (pcallcontrol.go).
type callTimer struct {
	Base
	secs  int         // from a P-CallControl header; 0: the profile's call_timer
	timer *time.Timer // set by Connect; the switch never runs Connect and End at once
}

func newCallTimer(p *config.Profile) Module {
	if p.CallTimer == nil {
		return nil
	}
	return &callTimer{}
}

func (m *callTimer) Connect(c *Call) {
	secs := m.secs
	if secs == 0 {
		v := strings.TrimSpace(c.Profile.CallTimer.Expand(c.Request))
		if v == "" {
			return // e.g. the header is absent: no limit
		}
		var err error
		if secs, err = strconv.Atoi(v); err != nil || secs <= 0 {
			c.Log.Warn("call_timer is not a positive number of seconds: no limit", "value", v)
			return
		}
	}
	m.timer = time.AfterFunc(time.Duration(secs)*time.Second, c.Expire)
}

func (m *callTimer) End(*Call) {
	if m.timer != nil {
		m.timer.Stop()
	}
}
