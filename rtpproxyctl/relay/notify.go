package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// notifyQueue bounds the notifications waiting for one target; beyond it
// they are dropped and logged rather than blocking the timeout sweep.
const notifyQueue = 1024

// notifier delivers timeout notifications (section 2.14) to one configured
// target over one kept-open connection, reconnecting after an error.
type notifier struct {
	target  string
	network string
	addr    string
	ch      chan string
	log     *slog.Logger
}

func newNotifier(target string, log *slog.Logger) (*notifier, error) {
	n := &notifier{target: target, ch: make(chan string, notifyQueue), log: log}
	switch kind, rest, _ := strings.Cut(target, ":"); {
	case strings.HasPrefix(target, "/"):
		n.network, n.addr = "unix", target
	case kind == "unix" && rest != "":
		n.network, n.addr = "unix", rest
	case kind == "tcp" && rest != "":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			return nil, fmt.Errorf("relay: notify target %q: %w", target, err)
		}
		n.network, n.addr = "tcp", rest
	default:
		return nil, fmt.Errorf("relay: notify target %q: want tcp:host:port or unix:/path", target)
	}
	return n, nil
}

func (n *notifier) send(tag string) {
	select {
	case n.ch <- tag:
	default:
		n.log.Warn("relay: notify queue full, notification dropped", "target", n.target, "tag", tag)
	}
}

func (n *notifier) run(ctx context.Context) {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case tag := <-n.ch:
			msg := []byte(tag + "\n")
			// One retry on a fresh connection: the kept-open one may have
			// been closed by the peer since the last notification.
			for attempt := 0; attempt < 2; attempt++ {
				if conn == nil {
					d := net.Dialer{Timeout: 3 * time.Second}
					c, err := d.DialContext(ctx, n.network, n.addr)
					if err != nil {
						n.log.Warn("relay: notify connect failed", "target", n.target, "err", err)
						break
					}
					conn = c
				}
				_ = conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
				if _, err := conn.Write(msg); err == nil {
					break
				} else {
					n.log.Warn("relay: notify write failed", "target", n.target, "err", err)
				}
				conn.Close()
				conn = nil
			}
		}
	}
}
