package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sampleGroup sums the CPU time and proportional memory of every process
// in the process group pgid: a forking server such as Kamailio does its
// work in children, so its own /proc/<pid>/stat shows only a fraction.
func sampleGroup(pgid int) (procSample, error) {
	return sumGroup("/proc", pgid)
}

// sumGroup reads every process under procRoot (the /proc layout) and adds
// up utime+stime and Pss (smaps_rollup) of those in group pgid. Pss, not
// VmRSS: a forked server's processes share its memory, and summing their RSS
// would count the shared pages once per process. A process that exits while
// being read is left out.
func sumGroup(procRoot string, pgid int) (procSample, error) {
	s := procSample{at: time.Now()}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return s, fmt.Errorf("read %s: %w", procRoot, err)
	}
	found := 0
	for _, ent := range entries {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue // not a process
		}
		stat, err := os.ReadFile(filepath.Join(procRoot, ent.Name(), "stat"))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("read process stat: %w", err)
		}
		group, cpu, err := parseProcStatGroup(stat)
		if err != nil {
			return s, err
		}
		if group != pgid {
			continue
		}
		rollup, err := os.ReadFile(filepath.Join(procRoot, ent.Name(), "smaps_rollup"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited between the two reads
		}
		if err != nil {
			return s, fmt.Errorf("read process smaps_rollup: %w", err)
		}
		pss, err := parseKBLine(rollup, "Pss")
		if err != nil {
			return s, err
		}
		s.cpu += cpu
		s.rss += pss
		found++
	}
	if found == 0 {
		return s, fmt.Errorf("no process in group %d", pgid)
	}
	return s, nil
}

// parseProcStatGroup returns the process group (field 5) and utime+stime
// of the contents of /proc/<pid>/stat.
func parseProcStatGroup(stat []byte) (int, time.Duration, error) {
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		return 0, 0, err
	}
	// parseProcStatCPU found the fields after the last ')': state, ppid, pgrp.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	pgrp, err := strconv.Atoi(f[2])
	if err != nil || pgrp < 0 {
		return 0, 0, fmt.Errorf("stat pgrp %q: %w", f[2], errProcFormat)
	}
	return pgrp, cpu, nil
}
