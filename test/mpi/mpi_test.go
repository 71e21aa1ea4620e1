package mpi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/test/cluster"
)

const (
	ranks      = 4
	recordSize = 47008 // IOR-hard's transfer size
	// records per rank: 4 x 64 x 47008 bytes = 11.5 MiB a run.
	recordsPerRank = 64
	// mpirunLimit bounds one mpirun, start-up to exit; it only decides how
	// long a hung job takes to fail.
	mpirunLimit = 3 * time.Minute
)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

// TestIORHardTwoClients runs iorhard on a 4-stripe file (64 KiB stripes,
// so most records span two OSTs) with ranks alternating between two client
// mounts, through OMPIO and ROMIO, independent and collective.
func TestIORHardTwoClients(t *testing.T) {
	leaktest.Check(t)
	exe := buildIORHard(t)
	c := cluster.New(t, cluster.Options{OSSs: 2, OSTsPerOSS: 2, Clients: 2})
	for _, tc := range []struct{ io, mode string }{
		{"ompio", "ind"},
		{"ompio", "coll"},
		{"romio321", "ind"},
	} {
		t.Run(tc.io+"_"+tc.mode, func(t *testing.T) {
			name := "iorhard-" + tc.io + "-" + tc.mode
			a, b := filepath.Join(c.Mount(0), name), filepath.Join(c.Mount(1), name)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if out, errOut, code := c.Lfs(ctx, "setstripe", "-c", "4", "-S", "64K", a); code != 0 {
				t.Fatalf("lfs setstripe %s: exit %d\n%s%s", a, code, out, errOut)
			}
			out, err := mpirun(t, mpirunLimit, exe, []string{"--mca", "io", tc.io},
				a, b, strconv.Itoa(recordsPerRank), strconv.Itoa(recordSize), tc.mode)
			if err != nil {
				t.Fatalf("mpirun: %v\n%s", err, out)
			}
			if !strings.Contains(out, "PASS ranks=") {
				t.Fatalf("mpirun exited 0 without iorhard's PASS line:\n%s", out)
			}
			t.Logf("%s", lastLine(out))
			// Once more from outside MPI, through the other mount than
			// rank 0's, after every rank has closed the file.
			verifyFile(t, b, ranks*recordsPerRank, recordSize)
			if out, errOut, code := c.Lfs(ctx, "getstripe", "-c", b); code != 0 || strings.TrimSpace(out) != "4" {
				t.Errorf("lfs getstripe -c %s: exit %d, %q %s (want 4 stripes)", b, code, out, errOut)
			}
		})
	}
}

// TestIORHardFindsMismatch gives iorhard two different files in place of
// two paths to one: every rank must then find records of the other ranks
// missing, and the job must fail saying where, rather than pass or hang.
func TestIORHardFindsMismatch(t *testing.T) {
	leaktest.Check(t)
	exe := buildIORHard(t)
	a, b := filepath.Join(t.TempDir(), "f"), filepath.Join(t.TempDir(), "f")
	// Both exist: a rank that fails MPI_File_open while the others succeed
	// leaves the job spinning in a collective until the deadline.
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := mpirun(t, mpirunLimit, exe, nil, a, b, "16", strconv.Itoa(recordSize), "ind")
	if err == nil {
		t.Fatalf("iorhard passed on two different files:\n%s", out)
	}
	if !strings.Contains(out, "FAIL rank ") {
		t.Fatalf("mpirun failed (%v) without iorhard's FAIL line:\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL rank ") {
			t.Logf("as expected: %s", l)
		}
	}
}

// TestMpirunDeadline: a job that never ends (ranks that disagree at
// MPI_File_open spin in a collective: one path's file does not exist) is
// stopped at the deadline and leaves no process behind.
func TestMpirunDeadline(t *testing.T) {
	leaktest.Check(t)
	exe := buildIORHard(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "f"), filepath.Join(dir, "missing", "f")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := mpirun(t, 5*time.Second, exe, nil, a, b, "16")
	if err == nil {
		t.Fatalf("iorhard passed with a missing directory:\n%s", out)
	}
	t.Logf("as expected: %v", err)
}

// buildIORHard compiles iorhard.c with mpicc into a temporary directory.
// Without Open MPI the test skips, except under CI, where make test will
// have installed it.
func buildIORHard(t *testing.T) string {
	t.Helper()
	mpicc, err := exec.LookPath("mpicc")
	if err == nil {
		_, err = exec.LookPath("mpirun")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Open MPI is missing under CI (make test's deps install openmpi-bin libopenmpi-dev): %v", err)
		}
		t.Skipf("Open MPI is not installed (apt-get install openmpi-bin libopenmpi-dev), needed for the MPI-IO test of issue 4: %v", err)
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "testdata", "iorhard.c")
	exe := filepath.Join(t.TempDir(), "iorhard")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mpicc, "-O2", "-Wall", "-Werror", "-o", exe, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mpicc: %v\n%s", err, out)
	}
	return exe
}

// mpirun runs exe with args on 4 ranks (over shared memory, as root) and
// returns its stdout and stderr together. At limit (or near the test's
// deadline) mpirun gets SIGTERM and, 10 s later, SIGKILL; afterwards every
// process still in mpirun's session (ranks it failed to take down) is
// killed by pid.
func mpirun(t *testing.T, limit time.Duration, exe string, mca []string, args ...string) (string, error) {
	t.Helper()
	if d, ok := t.Deadline(); ok && time.Until(d)-30*time.Second < limit {
		limit = max(time.Until(d)-30*time.Second, 10*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append([]string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(ranks),
		"--mca", "btl", "self,vader"}, mca...)
	argv = append(append(argv, exe), args...)
	cmd := exec.CommandContext(ctx, "mpirun", argv...)
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Start()
	if err != nil {
		return "", err
	}
	err = cmd.Wait()
	// Ranks that mpirun signalled may take a moment to exit after it.
	waitSession(cmd.Process.Pid, 10*time.Second)
	if left := killSession(cmd.Process.Pid); len(left) > 0 {
		t.Errorf("processes of mpirun's session left after it exited, killed: %v", left)
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("no exit within %v (killed): %w", limit, err)
	}
	t.Logf("mpirun %s: %v", strings.Join(argv, " "), time.Since(start).Round(time.Millisecond))
	return out.String(), err
}

// waitSession waits, at most d, until no live process is in session sid.
func waitSession(sid int, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end) && len(session(sid)) > 0; {
		time.Sleep(20 * time.Millisecond)
	}
}

// killSession SIGKILLs every process whose session id is sid and returns
// their pids.
func killSession(sid int) []int {
	var killed []int
	for _, pid := range session(sid) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	return killed
}

// session returns the live (not zombie) processes of session sid.
func session(sid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 4 || f[3] != strconv.Itoa(sid) || f[0] == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// pattern is byte j of record i, as iorhard.c's pattern computes it.
func pattern(i, j int64) byte {
	x := uint64(i+1)*0x9E3779B97F4A7C15 ^ uint64(j/8+1)*0xC2B2AE3D27D4EB4F
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	return byte(x >> (8 * (j % 8)))
}

// verifyFile reads path whole and checks its size and every byte against
// pattern, reporting the first wrong byte.
func verifyFile(t *testing.T, path string, records, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != records*size {
		t.Fatalf("%s: size %d, want %d (%d records of %d bytes)", path, st.Size(), records*size, records, size)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	rec := make([]byte, size)
	for i := range records {
		if _, err := io.ReadFull(r, rec); err != nil {
			t.Fatalf("%s: record %d: %v", path, i, err)
		}
		for j, got := range rec {
			if want := pattern(i, int64(j)); got != want {
				t.Fatalf("%s: record %d (rank %d) offset %d (file offset %d): expected 0x%02x, got 0x%02x",
					path, i, i%ranks, j, i*size+int64(j), want, got)
			}
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
