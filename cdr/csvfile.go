package cdr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	files map[string]*csvDay // by day
}

const (
	csvRecentIDs = 8192
	csvOpenDays  = 3 // today, yesterday, and a late straggler
)

type csvDay struct {
	f      *os.File
	size   int64
	recent map[string]struct{}
	order  []string // recent IDs, oldest first
	used   time.Time
}

// OpenCSVFiles returns a Sink writing daily CSV files into dir.
func OpenCSVFiles(dir string, logger *slog.Logger) (*CSVFiles, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cdr csv: %w", err)
	}
	return &CSVFiles{dir: dir, log: logger.With("component", "cdr-csv", "dir", dir), files: map[string]*csvDay{}}, nil
}

// Write appends recs to their days' files.
func (c *CSVFiles) Write(ctx context.Context, recs []Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	byDay := map[string][]Record{}
	for _, r := range recs {
		t := r.DisconnectTime
		if t.IsZero() {
			t = r.SetupTime
		}
		day := t.UTC().Format("2006-01-02")
		byDay[day] = append(byDay[day], r)
	}
	days := make([]string, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	sort.Strings(days)
	for _, day := range days {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.writeDay(day, byDay[day]); err != nil {
			return err
		}
	}
	return nil
}

func (c *CSVFiles) writeDay(day string, recs []Record) error {
	d, err := c.open(day)
	if err != nil {
		return err
	}
	d.used = time.Now()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if d.size == 0 {
		w.Write(columns) //nolint:errcheck // a bytes.Buffer does not fail; Flush reports anyway
	}
	var row []string
	var added []string
	for _, r := range recs {
		if _, dup := d.recent[r.ID]; dup || slices.Contains(added, r.ID) {
			continue
		}
		row = csvRow(r, row)
		w.Write(row) //nolint:errcheck // as above
		added = append(added, r.ID)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("cdr csv: %w", err)
	}
	if len(added) == 0 {
		return nil
	}
	_, err = d.f.WriteAt(buf.Bytes(), d.size)
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
	d.size += int64(buf.Len())
	for _, id := range added {
		d.remember(id)
	}
	return nil
}

func (d *csvDay) remember(id string) {
	d.recent[id] = struct{}{}
	d.order = append(d.order, id)
	if len(d.order) > csvRecentIDs {
		delete(d.recent, d.order[0])
		d.order = d.order[1:]
	}
}

// open returns the day's file, recovering it on first use in this process:
// a row torn by a crash mid-write is cut off, and the IDs of the last rows
// are remembered for replay detection.
func (c *CSVFiles) open(day string) (*csvDay, error) {
	if d := c.files[day]; d != nil {
		return d, nil
	}
	path := filepath.Join(c.dir, "cdr-"+day+".csv")
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
		oldest := ""
		for k, v := range c.files {
			if oldest == "" || v.used.Before(c.files[oldest].used) {
				oldest = k
			}
		}
		c.closeDay(oldest)
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

func (c *CSVFiles) closeDay(day string) {
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
