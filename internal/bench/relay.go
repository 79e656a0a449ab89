package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// relayResult is what the relay load tool printed: its table and its last
// lines, which say where it stopped.
type relayResult struct {
	args  []string
	lines []string
	err   string
}

// runRelay runs the built-in relay's own load tool (internal/bench/relayload)
// with args, echoing and keeping its output, within limit.
func runRelay(ctx context.Context, root string, args []string, limit time.Duration) relayResult {
	res := relayResult{args: args}
	cmd := exec.Command("go", append([]string{"run", "./internal/bench/relayload"}, args...)...)
	cmd.Dir = root
	// A pipe of our own rather than StdoutPipe: Wait would close that one
	// and cut off output still buffered in it.
	out, w, err := os.Pipe()
	if err != nil {
		res.err = err.Error()
		return res
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = w, w
	c, err := startChild("relayload", cmd)
	w.Close()
	if err != nil {
		res.err = err.Error()
		return res
	}
	lines := make(chan []string, 1)
	go func() { lines <- echoLines(out, "  relay | ") }()
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if c.wait(wctx) != nil {
		// SIGINT lets the tool stop its relay child; the group kill follows.
		c.stop(syscall.SIGINT, 5*time.Second)
		res.err = fmt.Sprintf("stopped after %v", limit)
	}
	res.lines = <-lines
	if res.err == "" && c.exitCode() != 0 {
		res.err = fmt.Sprintf("exit status %d", c.exitCode())
	}
	return res
}

// echoLines prints every line of r with a prefix and returns them all.
func echoLines(r io.Reader, prefix string) []string {
	var all []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		fmt.Println(prefix + line)
		all = append(all, line)
	}
	return all
}
