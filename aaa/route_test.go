package aaa

import (
	"testing"
	"time"
)

func TestParseRoute(t *testing.T) {
	t.Parallel()
	r, err := ParseRoute("15551230002@[2001:db8::1]:5080;expires=30;gt=10;forward_on_fail=0;reauth=15;x-new=1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Host != "2001:db8::1" || r.Port != 5080 || r.CalledMode != CalledReplace || r.Expires != 30*time.Second ||
		r.GroupTimeout != 10*time.Second || r.GroupSkip != 0 || r.ForwardOnFail || r.Other["x-new"] != "1" ||
		!r.HasReauth || r.ReauthBefore != 15*time.Second {
		t.Errorf("%+v", r)
	}
	if r, err := ParseRoute("gw.example.net"); err != nil || r.Host != "gw.example.net" || r.Port != 0 || r.CalledMode != CalledKeep {
		t.Errorf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "@", "1@", "h:0", "h:99999", "h;credit-time=x", "h;hs_scodes=48x",
		"h;auth=nopass", "h;rtpp=2", "h;ash=NoColon", "h;ash=X%3A%0D%0Ay", "h;cnam=%zz", "h;gt=1,x", "h;reauth=soon"} {
		if _, err := ParseRoute(bad); err == nil {
			t.Errorf("ParseRoute(%q) accepted", bad)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"15551230002@127.0.0.1:5080;credit-time=120;hs_scodes=486,404;auth=a:b;ash=X%3A%20y;rtpp=1;gt=10,2",
		"@h", "h", "[::1]:5060;cnam=A%20B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoute(s)
		if err == nil && r.Host == "" {
			t.Fatalf("accepted %q without a host", s)
		}
	})
}
