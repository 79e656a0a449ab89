package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test with what when it
// still does not after within. It is the one way tests wait for something
// that happens asynchronously: never a sleep, always a condition and a
// deadline.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
