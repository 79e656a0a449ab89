// Package billing holds the switch's call limits and credit arithmetic:
// parallel calls per account and per gateway, calls per second per source,
// and the credit time a call is granted. Pure logic, lock-sharded so that
// the call setup path never waits on one global lock.
package billing
