package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// TestENOSPC: a writer filling an OST gets ENOSPC, from write, fsync or
// close, not silent loss; after the file is removed the space is usable
// again.
func TestENOSPC(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) { testENOSPC(t, r) })
	}
}

func testENOSPC(t *testing.T, r cluster.Runner) {
	const capacity = 24 << 20
	c := cluster.New(t, cluster.Options{OSSs: 1, OSTsPerOSS: 1, OSTCapacity: capacity, Runner: r})
	p := filepath.Join(c.Mount(0), "big")
	f, err := os.Create(p)
	must(t, "create", err)
	chunk := bytes.Repeat([]byte("z"), 1<<20)
	var werr error
	written := 0
	for written < 4*capacity {
		if _, werr = f.Write(chunk); werr != nil {
			break
		}
		written += len(chunk)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("wrote %d MiB to a %d MiB OST: %v, want ENOSPC", written>>20, capacity>>20, werr)
	}
	t.Logf("ENOSPC after %d MiB", written>>20)
	must(t, "remove", os.Remove(p))
	// The destroyed objects' space returns (asynchronously, through the
	// MDT's destroy queue): poll for a write that succeeds.
	deadline := time.Now().Add(time.Minute)
	for {
		err := os.WriteFile(filepath.Join(c.Mount(0), "small"), bytes.Repeat([]byte("s"), 4<<20), 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOSPC) || time.Now().After(deadline) {
			t.Fatalf("writing 4 MiB after removing the big file: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeadOSS: with one OSS killed, I/O to the stripes it served waits or
// fails, never returns wrong data; files on the other OSS stay readable;
// once the OSS is back, everything reads back whole.
func TestDeadOSS(t *testing.T) {
	c := cluster.New(t, cluster.Options{})
	wide := filepath.Join(c.Mount(0), "wide") // stripes on every OST
	lfsOK(t, c, "setstripe", "-c", "4", "-S", "64K", wide)
	narrow := filepath.Join(c.Mount(0), "narrow") // OST0000 only, on oss0
	lfsOK(t, c, "setstripe", "-c", "1", "-i", "0", narrow)
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>16)
	}
	must(t, "write wide", os.WriteFile(wide, data, 0o644))
	must(t, "write narrow", os.WriteFile(narrow, data[:300<<10], 0o644))

	must(t, "kill oss1", c.KillOSS(1))

	got, err := os.ReadFile(narrow)
	if err != nil || !bytes.Equal(got, data[:300<<10]) {
		t.Errorf("a file on the live OSS: %d bytes, %v", len(got), err)
	}
	// Read the wide file in a process of its own, so a read that waits
	// can be ended: whatever it returns must be a prefix of the data.
	for _, what := range []string{"cat", "dd"} {
		out, runErr := readWithin(t, 4*time.Second, what, wide)
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("%s of a file with stripes on a dead OSS returned %d bytes that are not the file's (first difference at %d)",
				what, len(out), firstDiff(out, data[:min(len(out), len(data))]))
		}
		t.Logf("%s with oss1 dead: %d of %d bytes, then %v", what, len(out), len(data), runErr)
		if runErr == nil && len(out) != len(data) {
			t.Errorf("%s succeeded with %d of %d bytes", what, len(out), len(data))
		}
	}

	must(t, "start oss1", c.StartOSS(1))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, runErr := readWithin(t, 30*time.Second, "cat", wide)
		if runErr == nil {
			if !bytes.Equal(out, data) {
				t.Fatalf("after oss1 came back: %d bytes, first difference at %d", len(out), firstDiff(out, data))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the wide file did not read back after oss1 came back: %v", runErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readWithin reads path with cat or dd in a child process, killed after
// bound; it returns what the child wrote to stdout and how it ended.
func readWithin(t *testing.T, bound time.Duration, tool, path string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var cmd *exec.Cmd
	if tool == "dd" {
		cmd = exec.CommandContext(ctx, "dd", "if="+path, "bs=64k", "status=none")
	} else {
		cmd = exec.CommandContext(ctx, "cat", path)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = errors.New("still waiting after " + bound.String())
		} else {
			err = errors.New(err.Error() + ": " + errOut.String())
		}
	}
	return out.Bytes(), err
}
