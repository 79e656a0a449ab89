package callctl

import (
	"testing"

	"github.com/tollgate/tollgate/config"
)

// pccBoth is a P-CallControl policy letting the header choose both
// modules; its trusted sources do not matter to chooseModule.
var pccBoth = &config.PCallControl{Modules: config.PCCModules}

// TestChooseModule: each entry of a P-CallControl header builds the
// module it names with its parameters, SEMS's names included, and
// anything else is an error, never a module with a default.
func TestChooseModule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		entry string
		check func(Module) bool
	}{
		{"call_timer;timer=90", func(m Module) bool { ct, ok := m.(*callTimer); return ok && ct.secs == 90 }},
		{"CC_CALL_TIMER; timer = 5", func(m Module) bool { ct, ok := m.(*callTimer); return ok && ct.secs == 5 }},
		{"limit;key=acct-7;max_calls=3", func(m Module) bool {
			l, ok := m.(*limit)
			return ok && l.chosen.key == "acct-7" && l.chosen.max == 3
		}},
		{"cc_pcalls;uuid=u1;max_calls=1", func(m Module) bool { l, ok := m.(*limit); return ok && l.chosen.key == "u1" }},
	} {
		m, err := chooseModule(tc.entry, pccBoth)
		if err != nil || !tc.check(m) {
			t.Errorf("%q: %#v, %v", tc.entry, m, err)
		}
	}
	for _, entry := range []string{"", "voicemail", "call_timer", "call_timer;timer=0", "call_timer;timer=-3",
		"limit;max_calls=2", "limit;key=k", "limit;key=k;max_calls=x"} {
		if m, err := chooseModule(entry, pccBoth); err == nil {
			t.Errorf("%q accepted: %#v", entry, m)
		}
	}
	timerOnly := &config.PCallControl{Modules: []string{config.PCCCallTimer}}
	if _, err := chooseModule("limit;key=k;max_calls=1", timerOnly); err == nil {
		t.Error("a module the profile does not allow was chosen")
	}
}

// FuzzChooseModule: no header entry, however malformed, panics or yields
// a module without its parameters.
func FuzzChooseModule(f *testing.F) {
	for _, s := range []string{"call_timer;timer=90", "limit;key=a;max_calls=2", "cc_pcalls;uuid=;max_calls=1",
		";;==;", "limit;key=a=b;max_calls=1;max_calls=2", "call_timer;timer=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		m, err := chooseModule(entry, pccBoth)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *callTimer:
			if m.secs <= 0 {
				t.Fatalf("%q: timer %d", entry, m.secs)
			}
		case *limit:
			if m.chosen == nil || m.chosen.key == "" || m.chosen.max <= 0 {
				t.Fatalf("%q: limit %+v", entry, m.chosen)
			}
		default:
			t.Fatalf("%q: %T", entry, m)
		}
	})
}
