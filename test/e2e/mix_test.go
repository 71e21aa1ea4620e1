package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// Shape of TestRandomMix.
const (
	mixClients = 3           // client mounts, one worker on each
	mixOps     = 400         // operations per worker
	mixRec     = 4096        // a file holds nothing or one whole record
	mixOpLimit = time.Minute // one operation longer than this is a deadlock
)

var mixNames = []string{"a", "b", "c", "d", "e"}

// TestRandomMix (issue #4: no deadlock under a randomized mix): a worker
// on each of three client mounts runs a random mix of creates, record
// writes, reads, renames, unlinks, flocks, stats and flock-protected
// increments of a shared counter, on a few names of one directory. No
// operation may hang (each is watched; one taking over mixOpLimit fails
// the test) or fail other than as a race allows (ENOENT). The model: a
// file holds nothing or one whole record (a write replaces it whole, a
// rename moves it whole), so every read and stat sees 0 or mixRec bytes
// and a record intact; the counter ends at the number of increments (the
// flocks exclude each other across clients, and each holder reads the
// last one's write); and at the end every client sees the same names,
// the same inodes and the same bytes.
func TestRandomMix(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			skipKnown(t, "RandomMix/"+r.String())
			c := cluster.New(t, cluster.Options{Clients: mixClients, Runner: r})
			testRandomNamespaceMix(t, c)
		})
	}
}

func testRandomNamespaceMix(t *testing.T, c *cluster.Cluster) {
	d0 := freshDir(t, c, 0)
	rel, err := filepath.Rel(c.Mount(0), d0)
	must(t, "rel", err)
	dirs := make([]string, mixClients)
	for i := range dirs {
		dirs[i] = filepath.Join(c.Mount(i), rel)
	}
	must(t, "create the counter", os.WriteFile(filepath.Join(d0, "counter"), counterRec(0), 0o644))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ws := make([]*mixWorker, mixClients)
	done := make(chan error, mixClients)
	for i := range ws {
		ws[i] = &mixWorker{id: i, dir: dirs[i], rng: rand.New(rand.NewPCG(uint64(i), seed))}
		go func() { done <- ws[i].run() }()
	}
	// The watchdog: every worker finishes, and no operation takes longer
	// than mixOpLimit.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for left := mixClients; left > 0; {
		select {
		case err := <-done:
			left--
			if err != nil {
				t.Error(err)
			}
		case <-tick.C:
			for _, w := range ws {
				if op, d := w.current(); d > mixOpLimit {
					t.Fatalf("client %d: %s has not returned after %v: deadlock?", w.id, op, d.Round(time.Second))
				}
			}
		}
	}
	if t.Failed() {
		return
	}

	incs, ops := 0, map[string]int{}
	for _, w := range ws {
		incs += w.incs
		for k, v := range w.ops {
			ops[k] += v
		}
	}
	t.Logf("operations that took effect: %v; counter increments %d", ops, incs)
	for i, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "counter"))
		must(t, "read the counter", err)
		if got, err := strconv.Atoi(string(bytes.TrimRight(b, "\n"))); err != nil || got != incs {
			t.Errorf("client %d reads the counter as %q after %d increments under flock", i, b, incs)
		}
	}
	// Every client sees the same names, inodes and contents.
	type view struct {
		ino  uint64
		data string
	}
	for _, name := range mixNames {
		var views []*view
		for i, d := range dirs {
			p := filepath.Join(d, name)
			var st unix.Stat_t
			if err := unix.Stat(p, &st); errors.Is(err, unix.ENOENT) {
				views = append(views, nil)
				continue
			} else if err != nil {
				t.Fatalf("client %d: stat %s: %v", i, name, err)
			}
			b, err := os.ReadFile(p)
			must(t, "read "+p, err)
			if err := checkRecord(b); err != nil {
				t.Errorf("client %d: %s at the end: %v", i, name, err)
			}
			views = append(views, &view{st.Ino, string(b)})
		}
		for i, v := range views[1:] {
			if (v == nil) != (views[0] == nil) || v != nil && *v != *views[0] {
				t.Errorf("%s: client %d and client 0 disagree (exists %v / %v)", name, i+1, v != nil, views[0] != nil)
			}
		}
	}
}

// mixWorker runs one client's operations.
type mixWorker struct {
	id   int
	dir  string
	rng  *rand.Rand
	incs int            // counter increments done
	ops  map[string]int // operations that took effect, by kind

	mu    sync.Mutex
	op    string // the operation under way, for the watchdog
	start time.Time
}

func (w *mixWorker) current() (string, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.op == "" {
		return "", 0
	}
	return w.op, time.Since(w.start)
}

func (w *mixWorker) set(op string) {
	w.mu.Lock()
	w.op, w.start = op, time.Now()
	w.mu.Unlock()
}

func (w *mixWorker) run() error {
	w.ops = map[string]int{}
	defer w.set("")
	for i := range mixOps {
		name := mixNames[w.rng.IntN(len(mixNames))]
		other := mixNames[w.rng.IntN(len(mixNames))]
		p := filepath.Join(w.dir, name)
		kinds := []string{"create", "write", "read", "rename", "unlink", "flock", "stat", "increment"}
		kind := kinds[w.rng.IntN(len(kinds))]
		w.set(fmt.Sprintf("step %d: %s %s", i, kind, name))
		var err error
		switch kind {
		case "create":
			var f *os.File
			if f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
				err = f.Close()
			}
		case "write":
			err = w.write(p, uint64(w.id)<<32|uint64(i))
		case "read":
			var b []byte
			if b, err = readOnce(p); err == nil {
				if cerr := checkRecord(b); cerr != nil {
					return fmt.Errorf("client %d step %d: read %s: %w", w.id, i, name, cerr)
				}
			}
		case "rename":
			err = os.Rename(p, filepath.Join(w.dir, other))
		case "unlink":
			err = os.Remove(p)
		case "flock":
			err = flockAndRelease(p)
		case "stat":
			var st unix.Stat_t
			if err = unix.Stat(p, &st); err == nil && st.Size != 0 && st.Size != mixRec {
				return fmt.Errorf("client %d step %d: stat %s: size %d, want 0 or %d", w.id, i, name, st.Size, mixRec)
			}
		case "increment":
			if err = w.increment(); err == nil {
				w.incs++
			}
		}
		switch {
		case err == nil:
			w.ops[kind]++
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("client %d step %d: %s %s: %w", w.id, i, kind, name, err)
		}
	}
	return nil
}

// readOnce reads p with one read(2) of more than a record: a file holds
// nothing or one record, and one read sees one version of it (os.ReadFile
// sizes its first read by stat, and a second read may see another
// client's rewrite: two versions, not a torn one).
func readOnce(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 2*mixRec)
	n, err := unix.Pread(int(f.Fd()), b, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "pread", Path: p, Err: err}
	}
	return b[:n], nil
}

// write replaces the file's content with record id, in one write.
func (w *mixWorker) write(p string, id uint64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(record(id), 0)
	return errors.Join(err, f.Close())
}

// increment adds one to the counter under an exclusive flock.
func (w *mixWorker) increment() error {
	f, err := os.OpenFile(filepath.Join(w.dir, "counter"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("flock: %w", err)
	}
	b := make([]byte, 64)
	n, err := f.ReadAt(b, 0)
	if n == 0 {
		return fmt.Errorf("read the counter: %d bytes, %w", n, err)
	}
	v, err := strconv.Atoi(string(bytes.TrimRight(b[:n], "\n")))
	if err != nil {
		return fmt.Errorf("the counter holds %q", b[:n])
	}
	if _, err := f.WriteAt(counterRec(v+1), 0); err != nil {
		return err
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// counterRec is the counter's content for v: fixed width, so that a
// shorter number never leaves a longer one's digits behind.
func counterRec(v int) []byte { return []byte(fmt.Sprintf("%020d\n", v)) }

// flockAndRelease takes an exclusive flock on p, waiting for it, and
// releases it.
func flockAndRelease(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// record is mixRec bytes: id, then bytes derived from it.
func record(id uint64) []byte {
	b := make([]byte, mixRec)
	binary.LittleEndian.PutUint64(b, id)
	for i := 8; i < len(b); i++ {
		b[i] = byte(id*31 + uint64(i)*7 + uint64(i>>8))
	}
	return b
}

// checkRecord says what is wrong with a file's content: it must be empty
// or one whole record.
func checkRecord(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case len(b) != mixRec:
		return fmt.Errorf("%d bytes, want 0 or %d", len(b), mixRec)
	}
	id := binary.LittleEndian.Uint64(b)
	if want := record(id); !bytes.Equal(b, want) {
		return fmt.Errorf("record %#x is torn (first difference at byte %d; %s)", id, firstDiff(b, want), recordRuns(b))
	}
	return nil
}

// recordRuns describes a torn record: its runs of bytes that agree with
// one record, by the low byte of that record's id (the bytes past the id
// tell only that), or that are zeros.
func recordRuns(b []byte) string {
	const inv31 = 223 // 31 * 223 = 1 (mod 256)
	var out []string
	start, cur := 8, -1
	for i := 8; i <= len(b); i++ {
		k := -2 // the end
		if i < len(b) {
			k = int(byte((b[i] - byte(i*7) - byte(i>>8)) * inv31))
			if b[i] == 0 && (i+1 < len(b) && b[i+1] == 0 || b[i-1] == 0) {
				k = -1
			}
		}
		if i > 8 && k != cur {
			what := fmt.Sprintf("id low byte %#02x", cur)
			if cur == -1 {
				what = "zeros"
			}
			out = append(out, fmt.Sprintf("[%d, %d) %s", start, i, what))
			start = i
		}
		cur = k
	}
	return strings.Join(out, ", ")
}
