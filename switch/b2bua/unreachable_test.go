package b2bua

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/testenv"
)

// TestRefusedGatewayFailsAtOnce: a tcp gateway that refuses the
// connection fails its attempt at once (503, a real failure); the hunt does
// not wait for the no-progress timer. (A udp gateway's ICMP port
// unreachable is not seen: the switch's UDP sockets are not connected.)
func TestRefusedGatewayFailsAtOnce(t *testing.T) {
	t.Parallel()
	live := newPeer(t, "live")
	live.answer(0, nil)
	refusing := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	sw := startSwitch(t, fmt.Sprintf(`timers: {no_progress: 20s}
routes:
  - prefix: ""
    gateways:
      - {address: %q, transport: tcp}
      - {address: %q}
`, refusing, live.addr()))
	start := time.Now()
	_, r := gwCall(t, sw, live, newPeer(t, "caller"), "100")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the call took %v: the refusing gateway was waited for", d)
	}
	if len(r.Attempts) != 2 || r.Attempts[0].SIPCode != 503 {
		t.Errorf("attempts %+v: want the refused one (503), then the live gateway", r.Attempts)
	}
}
