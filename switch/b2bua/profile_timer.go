package b2bua

import (
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/cdr"
	"github.com/tollgate/tollgate/config"
)

// timerModule is SEMS's call timer: the connected call is cut after a
// number of seconds, fixed or read from the INVITE (e.g. $H(P-Call-Timer)).
type timerModule struct {
	baseModule
	timer *time.Timer // set on connect, under the call's lock
}

func init() {
	registerModule("call_timer", 60, func(p *config.Profile) callModule {
		if p.CallTimer == nil {
			return nil
		}
		return &timerModule{}
	})
}

func (m *timerModule) onConnect(cc *callChain) {
	v := strings.TrimSpace(cc.profile.CallTimer.Expand(cc.req))
	if v == "" {
		return // e.g. the header is absent: no limit
	}
	secs, err := strconv.Atoi(v)
	if err != nil || secs <= 0 {
		cc.log().Warn("call_timer is not a positive number of seconds: no limit", "value", v)
		return
	}
	c := cc.call
	m.timer = time.AfterFunc(time.Duration(secs)*time.Second, func() {
		c.end(outcome{reason: cdr.ReasonMaxDuration, releasedBy: cdr.ReleasedBySwitch,
			code: 200, sipReason: "OK", byeA: true, byeB: true})
	})
}

func (m *timerModule) onEnd(*callChain) {
	if m.timer != nil {
		m.timer.Stop()
	}
}
