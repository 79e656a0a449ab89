package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// The accounting records one call should leave: a Start and a Stop for its
// incoming leg (h323-call-origin=answer) and for its outgoing one
// (originate). A bit per record, kept per h323-conf-id.
const (
	answerStart uint8 = 1 << iota
	answerStop
	originateStart
	originateStop

	allLegRecords = answerStart | answerStop | originateStart | originateStop
	anyStart      = answerStart | originateStart
)

// detailTally counts the accounting records of FreeRADIUS's detail file by
// call, reading it as it grows: only the three attributes it needs, never
// the whole file at once (a 30 s step at 1,000 calls/s writes some 120,000
// records). It is fed the file's bytes in any pieces.
type detailTally struct {
	carry []byte           // a line not yet ended by its newline
	calls map[string]uint8 // h323-conf-id → records seen

	// the record being read
	inRecord               bool
	status, confID, origin string

	records  int // complete records
	interims int // Interim-Update records (none expected with 1 s calls)
	dups     int // a Start or Stop seen again for the same call and leg
	bad      int // records without a status, conf-id or known origin
}

func newDetailTally() *detailTally { return &detailTally{calls: map[string]uint8{}} }

// feed reads more of the detail file. Records are told apart by their
// blank line, so a record is counted once its blank line has been fed.
func (d *detailTally) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			d.carry = append(d.carry, b...)
			return
		}
		line := b[:i]
		if len(d.carry) > 0 {
			line = append(d.carry, line...)
			d.carry = d.carry[:0]
		}
		d.line(line)
		b = b[i+1:]
	}
}

// line handles one line: a header opens a record, a tab-indented
// "Name = value" adds to it, a blank line ends it.
func (d *detailTally) line(l []byte) {
	switch {
	case len(l) == 0:
		if d.inRecord {
			d.end()
		}
	case l[0] != '\t':
		if d.inRecord { // no blank line before the next header: count what it had
			d.end()
		}
		d.inRecord, d.status, d.confID, d.origin = true, "", "", ""
	case d.inRecord:
		name, value, ok := bytes.Cut(l[1:], []byte(" = "))
		if !ok {
			return
		}
		switch string(name) {
		case "Acct-Status-Type":
			d.status = string(value)
		case "h323-conf-id":
			d.confID = string(bytes.TrimPrefix(unquote(value), []byte("h323-conf-id=")))
		case "h323-call-origin":
			d.origin = string(bytes.TrimPrefix(unquote(value), []byte("h323-call-origin=")))
		}
	}
}

// unquote strips the double quotes FreeRADIUS puts around strings. The
// values compared here (hex conf-ids, origins) hold nothing it escapes.
func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// end counts the record just read.
func (d *detailTally) end() {
	d.inRecord = false
	d.records++
	if d.status == "Interim-Update" {
		d.interims++
		return
	}
	var bit uint8
	switch d.origin + " " + d.status {
	case "answer Start":
		bit = answerStart
	case "answer Stop":
		bit = answerStop
	case "originate Start":
		bit = originateStart
	case "originate Stop":
		bit = originateStop
	}
	if bit == 0 || d.confID == "" {
		d.bad++
		return
	}
	if d.calls[d.confID]&bit != 0 {
		d.dups++
	}
	d.calls[d.confID] |= bit
}

// acctCounts summarises a tally.
type acctCounts struct {
	records  int // complete records read
	answered int // calls with a Start on at least one leg: connected
	complete int // of which with Start and Stop on both legs
	failed   int // calls with Stops only: attempts that never connected
	dups     int
	bad      int
}

// open is how many connected calls still lack one of their four records.
func (c acctCounts) open() int { return c.answered - c.complete }

func (d *detailTally) counts() acctCounts {
	c := acctCounts{records: d.records, dups: d.dups, bad: d.bad}
	for _, bits := range d.calls {
		switch {
		case bits&allLegRecords == allLegRecords:
			c.answered++
			c.complete++
		case bits&anyStart != 0:
			c.answered++
		default:
			c.failed++
		}
	}
	return c
}

// detailFile follows FreeRADIUS's detail file, feeding what was appended
// since the last read to a tally.
type detailFile struct {
	path  string
	off   int64
	tally *detailTally
}

// read feeds the tally with what the file gained and returns the counts.
// A file not written yet counts as empty.
func (f *detailFile) read() (acctCounts, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return f.tally.counts(), nil
	}
	if err != nil {
		return acctCounts{}, fmt.Errorf("detail file: %w", err)
	}
	defer fh.Close()
	if _, err := fh.Seek(f.off, io.SeekStart); err != nil {
		return acctCounts{}, fmt.Errorf("detail file: %w", err)
	}
	buf := make([]byte, 1<<20)
	for {
		n, err := fh.Read(buf)
		f.tally.feed(buf[:n])
		f.off += int64(n)
		if errors.Is(err, io.EOF) {
			return f.tally.counts(), nil
		}
		if err != nil {
			return acctCounts{}, fmt.Errorf("detail file: %w", err)
		}
	}
}
