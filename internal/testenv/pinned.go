package testenv

import (
	"os"
	"os/exec"
	"runtime"
)

// startPinned starts cmd, whose output goes to out, from a goroutine locked
// to its OS thread and waits for it there: Pdeathsig fires when the thread
// that started the child ends, not the process, and Go may end an idle
// thread at any time. exited runs once the child has exited (it may read
// cmd.ProcessState), then done is closed. The start's error is returned.
func startPinned(cmd *exec.Cmd, out *os.File, done chan struct{}, exited func()) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(done)
			return
		}
		started <- nil
		_ = cmd.Wait()
		exited()
		close(done)
	}()
	return <-started
}
