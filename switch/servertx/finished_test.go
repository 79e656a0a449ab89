package servertx

import (
	"strconv"
	"testing"
	"time"
)

// clock is a Finished's time, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestFinished(span time.Duration) (*Finished, *clock) {
	c := &clock{t: time.Date(2026, 12, 8, 4, 0, 0, 0, time.UTC)}
	f := New(span)
	f.now = c.now
	return f, c
}

// TestFinishedKeepsAtLeastItsSpan: an entry added at any moment of a
// generation is answered for the whole span after it, and forgotten
// within two spans.
func TestFinishedKeepsAtLeastItsSpan(t *testing.T) {
	const span = 4 * time.Second
	for _, offset := range []time.Duration{0, time.Millisecond, span / 2, span - time.Millisecond} {
		t.Run(offset.String(), func(t *testing.T) {
			f, c := newTestFinished(span)
			f.Get("warm-up") // the generations begin now
			c.t = c.t.Add(offset)
			f.Add("k", []byte("SIP/2.0 200 OK\r\n\r\n"))
			added := c.t
			for d := time.Duration(0); d < span; d += 250 * time.Millisecond {
				c.t = added.Add(d)
				if wire, ok := f.Get("k"); !ok || string(wire) != "SIP/2.0 200 OK\r\n\r\n" {
					t.Fatalf("%v after it was added: %q, %v; want the response", d, wire, ok)
				}
			}
			c.t = added.Add(2 * span)
			if _, ok := f.Get("k"); ok {
				t.Fatal("still remembered two spans after it was added")
			}
		})
	}
}

// TestFinishedAbsorbs: an entry without a response is known, with no
// answer to give.
func TestFinishedAbsorbs(t *testing.T) {
	f, _ := newTestFinished(time.Second)
	f.Add("z9hG4bK-1__127.0.0.1__5060__INVITE", nil)
	if wire, ok := f.Get("z9hG4bK-1__127.0.0.1__5060__INVITE"); !ok || wire != nil {
		t.Fatalf("got %q, %v; want no answer, known", wire, ok)
	}
	if _, ok := f.Get("z9hG4bK-2__127.0.0.1__5060__INVITE"); ok {
		t.Fatal("an unknown key is known")
	}
}

// TestFinishedForgetsAfterIdle: after a long quiet spell both generations
// are gone at once, and what is added next is kept its full span.
func TestFinishedForgetsAfterIdle(t *testing.T) {
	const span = time.Second
	f, c := newTestFinished(span)
	for i := range 100 {
		f.Add(strconv.Itoa(i), []byte("x"))
	}
	c.t = c.t.Add(span / 2)
	f.Add("late", []byte("y"))
	c.t = c.t.Add(10 * span)
	for _, k := range []string{"0", "99", "late"} {
		if _, ok := f.Get(k); ok {
			t.Fatalf("%q still remembered after an idle spell of ten spans", k)
		}
	}
	f.Add("next", []byte("z"))
	c.t = c.t.Add(span - time.Nanosecond)
	if _, ok := f.Get("next"); !ok {
		t.Fatal("an entry added after the idle spell was forgotten within its span")
	}
}

// TestFinishedAnswersBothGenerations: entries of the old generation are
// still answered until it is dropped.
func TestFinishedAnswersBothGenerations(t *testing.T) {
	const span = time.Second
	f, c := newTestFinished(span)
	f.Add("a", []byte("1"))
	c.t = c.t.Add(span)
	f.Add("b", []byte("2"))
	if w, ok := f.Get("a"); !ok || string(w) != "1" {
		t.Fatalf("the old generation's entry: %q, %v", w, ok)
	}
	c.t = c.t.Add(span)
	if _, ok := f.Get("a"); ok {
		t.Fatal("the old generation outlived its second span")
	}
	if _, ok := f.Get("b"); !ok {
		t.Fatal("the young generation's entry was dropped with the old")
	}
}

func BenchmarkFinishedAddGet(b *testing.B) {
	f := New(4 * time.Second)
	wire := []byte("SIP/2.0 200 OK\r\n\r\n")
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "z9hG4bK-" + strconv.Itoa(i) + "__127.0.0.1__5060__BYE"
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		f.Add(k, wire)
		f.Get(k)
	}
}
