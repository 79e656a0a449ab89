package cdr

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// CSVFiles is the Sink used when no database is configured: one CSV file per
// UTC day (RFC 4180, header row, CRLF), named cdr-YYYY-MM-DD.csv after the
// day the call ended. Each write is fsync'd before the spool lets go of it.
//
// Idempotence: a batch replayed after a crash (written here, not yet
// committed in the spool) is recognised by the IDs of the last rows of each
// file, remembered on open, and not written twice. The window is
// csvRecentIDs rows per file, more than any batch the shipper sends.
type CSVFiles struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	files map[csvDate]*csvDay
	// What a write works with, kept from one to the next (under mu), so
	// that it allocates nothing per record: the days of the batch, in
	// order; the rows of one day; the IDs of those rows.
	days  []csvDate
	rows  csvRows
	added []string
	inDay map[string]struct{} // added, to look up
}

const (
	csvRecentIDs = 8192
	csvOpenDays  = 3 // today, yesterday, and a late straggler
)

type csvDay struct {
	f      *os.File
	size   int64
	recent map[string]struct{}
	// order is the recent IDs, a ring of csvRecentIDs once full, whose
	// oldest is at oldest.
	order  []string
	oldest int
	used   time.Time
}

// csvDate is a UTC day, which names a file.
type csvDate struct {
	year  int
	month time.Month
	day   int
}

// dayOf is the day a record's row goes to: the day the call ended.
func dayOf(r *Record) csvDate {
	t := r.DisconnectTime
	if t.IsZero() {
		t = r.SetupTime
	}
	y, m, d := t.UTC().Date()
	return csvDate{y, m, d}
}

func (d csvDate) compare(e csvDate) int {
	return cmp.Or(cmp.Compare(d.year, e.year), cmp.Compare(d.month, e.month), cmp.Compare(d.day, e.day))
}

// String is the day as its file's name holds it.
func (d csvDate) String() string {
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// OpenCSVFiles returns a Sink writing daily CSV files into dir.
func OpenCSVFiles(dir string, logger *slog.Logger) (*CSVFiles, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr csv: %w", err)
	}
	return &CSVFiles{dir: dir, log: logger.With("component", "cdr-csv", "dir", dir),
		files: map[csvDate]*csvDay{}, inDay: map[string]struct{}{}}, nil
}

// Write appends recs to their days' files, day after day.
func (c *CSVFiles) Write(ctx context.Context, recs []Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = c.days[:0]
	for i := range recs {
		if day := dayOf(&recs[i]); !slices.Contains(c.days, day) {
			c.days = append(c.days, day)
		}
	}
	slices.SortFunc(c.days, csvDate.compare)
	for _, day := range c.days {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.writeDay(day, recs); err != nil {
			return err
		}
	}
	return nil
}

// writeDay appends to day's file the rows of the records of recs that
// ended that day, but those it holds already (a batch written again), and
// syncs it.
func (c *CSVFiles) writeDay(day csvDate, recs []Record) error {
	d, err := c.open(day)
	if err != nil {
		return err
	}
	d.used = time.Now()
	c.rows.b = c.rows.b[:0]
	if d.size == 0 {
		c.rows.header()
	}
	defer c.forgetAdded()
	for i := range recs {
		r := &recs[i]
		if dayOf(r) != day {
			continue
		}
		_, dup := d.recent[r.ID]
		if _, again := c.inDay[r.ID]; dup || again {
			continue
		}
		c.rows.row(r)
		c.added = append(c.added, r.ID)
		c.inDay[r.ID] = struct{}{}
	}
	if len(c.added) == 0 {
		return nil
	}
	_, err = d.f.WriteAt(c.rows.b, d.size)
	if err == nil {
		err = d.f.Sync()
	}
	if err != nil {
		// Cut off a partial write so the file stays valid CSV.
		if terr := d.f.Truncate(d.size); terr != nil {
			c.closeDay(day)
		}
		return fmt.Errorf("cdr csv: write %s: %w", d.f.Name(), err)
	}
	d.size += int64(len(c.rows.b))
	for _, id := range c.added {
		d.remember(id)
	}
	return nil
}

// forgetAdded empties the IDs of a day's rows for the next day, keeping
// their arrays but none of their strings.
func (c *CSVFiles) forgetAdded() {
	clear(c.added)
	c.added = c.added[:0]
	clear(c.inDay)
}

func (d *csvDay) remember(id string) {
	d.recent[id] = struct{}{}
	if len(d.order) < csvRecentIDs {
		d.order = append(d.order, id)
		return
	}
	delete(d.recent, d.order[d.oldest])
	d.order[d.oldest] = id
	d.oldest = (d.oldest + 1) % csvRecentIDs
}

// open returns the day's file, recovering it on first use in this process:
// a row torn by a crash mid-write is cut off, and the IDs of the last rows
// are remembered for replay detection.
func (c *CSVFiles) open(day csvDate) (*csvDay, error) {
	if d := c.files[day]; d != nil {
		return d, nil
	}
	path := filepath.Join(c.dir, "cdr-"+day.String()+".csv")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cdr csv: %w", err)
	}
	d := &csvDay{f: f, recent: map[string]struct{}{}}
	good, err := d.recover()
	if errors.Is(err, errForeignCSV) {
		// Another version's columns, or someone else's file: keep it aside
		// rather than mix formats in one file.
		f.Close()
		aside := fmt.Sprintf("%s.%d.old", path, time.Now().Unix())
		c.log.Warn("moving aside a CSV file with other columns", "file", path, "to", aside)
		if err := os.Rename(path, aside); err != nil {
			return nil, fmt.Errorf("cdr csv: %w", err)
		}
		return c.open(day)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cdr csv: read %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cdr csv: %w", err)
	}
	if good < fi.Size() {
		c.log.Warn("truncating torn tail of CSV file", "file", path, "bytes", fi.Size()-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("cdr csv: %w", err)
		}
	}
	d.size = good
	if len(c.files) >= csvOpenDays {
		var oldest *csvDay
		var oldestDay csvDate
		for k, v := range c.files {
			if oldest == nil || v.used.Before(oldest.used) {
				oldest, oldestDay = v, k
			}
		}
		c.closeDay(oldestDay)
	}
	c.files[day] = d
	return d, nil
}

var errForeignCSV = errors.New("header is not Tollgate's CDR columns")

// recover parses the file and returns the offset just past its last
// complete row.
func (d *csvDay) recover() (int64, error) {
	r := csv.NewReader(bufio.NewReaderSize(io.NewSectionReader(d.f, 0, 1<<62), 256<<10))
	r.FieldsPerRecord = len(columns)
	r.ReuseRecord = true
	var good int64
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			break // a torn or foreign row: everything from here is cut
		}
		if first && !slices.Equal(rec, columns) {
			return 0, errForeignCSV
		}
		end := r.InputOffset()
		var last [1]byte
		if _, err := d.f.ReadAt(last[:], end-1); err != nil {
			return 0, err
		}
		if last[0] != '\n' {
			break // the final row lost its line end: torn
		}
		good = end
		if !first {
			d.remember(rec[0])
		}
	}
	return good, nil
}

func (c *CSVFiles) closeDay(day csvDate) {
	if d := c.files[day]; d != nil {
		d.f.Close()
		delete(c.files, day)
	}
}

// Close closes the open files.
func (c *CSVFiles) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for day := range c.files {
		c.closeDay(day)
	}
	return nil
}
