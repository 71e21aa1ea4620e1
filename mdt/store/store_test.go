package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/wire"
)

// TestMain fails the package when a committer goroutine outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		if strings.Contains(string(buf[:n]), "store.(*Store).run") {
			fmt.Fprintf(os.Stderr, "leaked committer goroutine:\n%s\n", buf[:n])
			code = 1
		}
	}
	os.Exit(code)
}

var label0 = Label{FSName: "testfs", Index: 0, UUID: "testfs-MDT0000_UUID"}

// newStore formats and opens a store in a temporary directory; cleanup
// checks the store's invariants and closes it.
func newStore(t testing.TB, l Label, opts Options) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, l, FormatOptions{NoSync: opts.NoSync}, nil); err != nil {
		t.Fatal(err)
	}
	return openStore(t, path, opts)
}

func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(context.Background()); err != nil && !errors.Is(err, ErrClosed) && s.failure() == nil {
			t.Errorf("store check: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// reopen closes s and opens its file again.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openStore(t, s.Path(), s.opts)
}

// createOp is a create-shaped operation: allocate a FID, write its inode, a
// directory entry and the link back.
func createOp(parent wire.FID, name string, out *wire.FID) func(*Tx) error {
	return func(t *Tx) error {
		if _, err := t.Dirent(parent, name); err == nil {
			return fmt.Errorf("%q: %w", name, os.ErrExist)
		}
		f, err := t.AllocFID()
		if err != nil {
			return err
		}
		ino := Inode{Mode: TypeReg | 0o644, Nlink: 1, Ctime: 1}
		if err := t.PutInode(f, &ino); err != nil {
			return err
		}
		if err := t.PutDirent(parent, name, Dirent{FID: f, Type: DirentType(ino.Mode)}); err != nil {
			return err
		}
		if out != nil {
			*out = f
		}
		return t.AddLink(f, parent, name)
	}
}

func TestFormatOpenLabel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mdt.db")
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open missing: %v, want ErrNotFormatted", err)
	}
	if err := Format(path, Label{FSName: "bad name!", UUID: "x"}, FormatOptions{}, nil); !errors.Is(err, ErrBadLabel) {
		t.Fatalf("bad label: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a refused format left a file")
	}
	if err := Format(path, label0, FormatOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	err := Format(path, Label{FSName: "other", UUID: "other-MDT0000_UUID"}, FormatOptions{}, nil)
	if !errors.Is(err, ErrFormatted) || !strings.Contains(err.Error(), "testfs-MDT0000") {
		t.Fatalf("format over a store: %v, want ErrFormatted naming testfs-MDT0000", err)
	}
	if l, err := ReadLabel(path); err != nil || !reflect.DeepEqual(l, label0) {
		t.Fatalf("ReadLabel = %+v, %v", l, err)
	}
	other := Label{FSName: "other", Index: 3, UUID: "other-MDT0003_UUID"}
	if err := Format(path, other, FormatOptions{Reformat: true}, nil); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, Options{})
	if !reflect.DeepEqual(s.Label(), other) || s.Label().Name() != "other-MDT0003" {
		t.Fatalf("label %+v", s.Label())
	}
	if s.LastCommitted() != 0 {
		t.Fatalf("fresh store last committed %d", s.LastCommitted())
	}

	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(junk, Options{}); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open junk: %v", err)
	}
	if err := Format(junk, label0, FormatOptions{}, nil); !errors.Is(err, ErrFormatted) {
		t.Fatalf("format over junk: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	db, err := bbolt.Open(empty, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(empty, Options{}); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open empty bbolt: %v", err)
	}
}

func TestFormatInitFailureLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	boom := errors.New("boom")
	if err := Format(path, label0, FormatOptions{}, func(*Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("format: %v", err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("open after failed format: %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	s := newStore(t, label0, Options{})
	if _, err := Open(s.Path(), Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestNewerVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, label0, FormatOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	setVersion(t, path, StorageVersion+1)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("open newer: %v, want ErrNewerVersion", err)
	}
}

func setVersion(t *testing.T, path string, v uint32) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyMetaVersion), binary.BigEndian.AppendUint32(nil, v))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOlderVersionWithoutMigrationRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, label0, FormatOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	setVersion(t, path, 0)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrMigration) {
		t.Fatalf("open version 0: %v, want ErrMigration", err)
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, label0, FormatOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ran []uint32
	ms := []migration{
		{from: 2, what: "second", apply: func(tx *bbolt.Tx) error { ran = append(ran, 2); return nil }},
		{from: 1, what: "first", apply: func(tx *bbolt.Tx) error {
			ran = append(ran, 1)
			_, err := tx.CreateBucket([]byte("new"))
			return err
		}},
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return migrate(tx, 1, 3, ms) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ran) != "[1 2]" {
		t.Fatalf("migrations ran %v", ran)
	}
	_ = db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("new")) == nil {
			t.Error("migration 1 did not take effect")
		}
		if v := tx.Bucket([]byte(bucketMeta)).Get([]byte(keyMetaVersion)); binary.BigEndian.Uint32(v) != 3 {
			t.Errorf("version after migrate %x", v)
		}
		return nil
	})
	boom := errors.New("boom")
	ms = []migration{{from: 3, what: "fails", apply: func(*bbolt.Tx) error { return boom }}}
	if err := db.Update(func(tx *bbolt.Tx) error { return migrate(tx, 3, 4, ms) }); !errors.Is(err, ErrMigration) || !errors.Is(err, boom) {
		t.Fatalf("failing migration: %v", err)
	}
}

func TestUpdateTransnosAndReopen(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	var last uint64
	for i := range 5 {
		tn, err := s.Update(ctx, createOp(wire.RootFID, fmt.Sprintf("f%d", i), nil))
		if err != nil {
			t.Fatal(err)
		}
		if tn != last+1 {
			t.Fatalf("transno %d after %d", tn, last)
		}
		last = tn
		if s.LastCommitted() != tn {
			t.Fatalf("LastCommitted %d, want %d", s.LastCommitted(), tn)
		}
	}
	// A read-only operation and a failing one take no transno.
	if tn, err := s.Update(ctx, func(t *Tx) error { _, err := t.Dirent(wire.RootFID, "f0"); return err }); err != nil || tn != 0 {
		t.Fatalf("read-only op: %d, %v", tn, err)
	}
	if _, err := s.Update(ctx, createOp(wire.RootFID, "f0", nil)); !errors.Is(err, os.ErrExist) {
		t.Fatalf("duplicate create: %v", err)
	}
	s = reopen(t, s)
	if s.LastCommitted() != last {
		t.Fatalf("after reopen LastCommitted %d, want %d", s.LastCommitted(), last)
	}
	tn, err := s.Update(ctx, createOp(wire.RootFID, "after", nil))
	if err != nil || tn != last+1 {
		t.Fatalf("after reopen: transno %d, %v; want %d", tn, err, last+1)
	}
	err = s.View(ctx, func(t *Tx) error {
		d, err := t.Dirent(wire.RootFID, "f3")
		if err != nil {
			return err
		}
		ino, err := t.Inode(d.FID)
		if err != nil {
			return err
		}
		if ino.Version != 4 {
			return fmt.Errorf("inode version %d, want transno 4", ino.Version)
		}
		if n := t.InodeCount(); n != 6 {
			return fmt.Errorf("inode count %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// groupStore returns a store whose committer closes a group only at n
// operations, so tests choose the groups without depending on timing.
func groupStore(t *testing.T, n int) *Store {
	return newStore(t, label0, Options{NoSync: true, MaxBatch: n})
}

type result struct {
	i       int
	transno uint64
	err     error
}

func runGroup(s *Store, fns []func(*Tx) error) []result {
	ch := make(chan result)
	for i, fn := range fns {
		go func() {
			tn, err := s.Update(context.Background(), fn)
			ch <- result{i, tn, err}
		}()
	}
	res := make([]result, len(fns))
	for range fns {
		r := <-ch
		res[r.i] = r
	}
	return res
}

func TestGroupWithPoisonedOperation(t *testing.T) {
	const n = 8
	s := groupStore(t, n)
	boom := errors.New("boom")
	var rolledBack, committed, cleanRollback int
	fns := make([]func(*Tx) error, n)
	for i := range fns {
		name := fmt.Sprintf("f%d", i)
		switch i {
		case 3: // writes, then fails: poisons the group
			fns[i] = func(t *Tx) error {
				t.OnRollback(func() { rolledBack++ })
				if err := createOp(wire.RootFID, name, nil)(t); err != nil {
					return err
				}
				return boom
			}
		case 5: // fails before writing
			fns[i] = func(t *Tx) error {
				t.OnRollback(func() { cleanRollback++ })
				t.Transno()
				return os.ErrInvalid
			}
		default:
			fns[i] = func(t *Tx) error {
				t.OnCommit(func() { committed++ })
				return createOp(wire.RootFID, name, nil)(t)
			}
		}
	}
	res := runGroup(s, fns)
	seen := map[uint64]bool{}
	for _, r := range res {
		switch r.i {
		case 3:
			if !errors.Is(r.err, boom) || r.transno != 0 {
				t.Errorf("poisoned op: %d, %v", r.transno, r.err)
			}
		case 5:
			if !errors.Is(r.err, os.ErrInvalid) || r.transno != 0 {
				t.Errorf("failed op: %d, %v", r.transno, r.err)
			}
		default:
			if r.err != nil || r.transno == 0 || seen[r.transno] {
				t.Errorf("op %d: transno %d, %v", r.i, r.transno, r.err)
			}
			seen[r.transno] = true
		}
	}
	// Six successful operations took transnos 1..6, without a gap.
	for tn := uint64(1); tn <= n-2; tn++ {
		if !seen[tn] {
			t.Errorf("transno %d missing: %v", tn, seen)
		}
	}
	if s.LastCommitted() != n-2 {
		t.Errorf("LastCommitted %d", s.LastCommitted())
	}
	if committed != n-2 || rolledBack != 1 || cleanRollback < 1 {
		t.Errorf("hooks: committed %d rolled back %d clean rollback %d", committed, rolledBack, cleanRollback)
	}
	err := s.View(context.Background(), func(t *Tx) error {
		if _, err := t.Dirent(wire.RootFID, "f3"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("poisoned op's entry: %v", err)
		}
		if n := t.InodeCount(); n != 6 {
			return fmt.Errorf("inode count %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpdateCancelledAndClosed(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if _, err := s.Update(ctx, func(*Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("cancelled update: %v, ran %v", err, ran)
	}
	if err := s.View(ctx, func(*Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled view: %v", err)
	}
	if err := s.View(context.Background(), func(t *Tx) error { return t.PutSymlink(wire.RootFID, "x") }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write in view: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("update after close: %v", err)
	}
	if err := s.View(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("view after close: %v", err)
	}
}

func TestConcurrentCreatesGroupCommit(t *testing.T) {
	s := newStore(t, label0, Options{})
	const workers, each = 8, 10
	errs := make(chan error, workers)
	tns := make(chan uint64, workers*each)
	for w := range workers {
		go func() {
			for i := range each {
				tn, err := s.Update(context.Background(), createOp(wire.RootFID, fmt.Sprintf("w%d-%d", w, i), nil))
				if err != nil {
					errs <- err
					return
				}
				if s.LastCommitted() < tn {
					errs <- fmt.Errorf("returned transno %d before it committed (%d)", tn, s.LastCommitted())
					return
				}
				tns <- tn
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(tns)
	seen := map[uint64]bool{}
	for tn := range tns {
		if seen[tn] {
			t.Fatalf("transno %d twice", tn)
		}
		seen[tn] = true
	}
	if len(seen) != workers*each || s.LastCommitted() != workers*each {
		t.Fatalf("%d transnos, last committed %d", len(seen), s.LastCommitted())
	}
}

// TestUpdateCancelWhilePending cancels an operation that waits for the
// committer, busy with another: it returns ctx.Err() and never runs.
func TestUpdateCancelWhilePending(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	busy, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), func(tx *Tx) error {
			close(busy)
			<-release
			return createOp(wire.RootFID, "first", nil)(tx)
		})
		first <- err
	}()
	<-busy
	cctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	ran := make(chan struct{}, 1)
	go func() {
		_, err := s.Update(cctx, func(*Tx) error { ran <- struct{}{}; return nil })
		cancelled <- err
	}()
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled op: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), createOp(wire.RootFID, "second", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("a cancelled operation ran")
	default:
	}
}
