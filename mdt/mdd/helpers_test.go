package mdd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// TestMain fails the package when a store committer outlives the tests.
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

var (
	root  = Root()
	alice = Creds{UID: 1000, GID: 1000}
	bob   = Creds{UID: 1001, GID: 1001}
	ctx   = context.Background()
)

// env is one formatted MDT0000 with its MDD; its cleanup runs Check.
type env struct {
	t     *testing.T
	path  string
	s     *store.Store
	m     *MDD
	clock atomic.Int64
	// onDestroy, if set before open, is the MDD's Config.OnDestroy.
	onDestroy func(t *store.Tx, f wire.FID, layout []byte) error
	// onLayout, if set before open, is the MDD's Config.OnLayout.
	onLayout func(t *store.Tx, f wire.FID, layout []byte) error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "mdt0.db")}
	e.clock.Store(time.Now().UnixNano())
	l := store.Label{FSName: "testfs", Index: 0, UUID: "testfs-MDT0000_UUID"}
	if err := Format(e.path, l, store.FormatOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	e.open()
	t.Cleanup(func() {
		if err := e.m.Check(ctx); err != nil {
			t.Errorf("mdd check: %v", err)
		}
		if err := e.s.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	s, err := store.Open(e.path, store.Options{NoSync: true, Logger: zaptest.NewLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := New(s, Config{Logger: zaptest.NewLogger(e.t), Now: e.now, OnDestroy: e.onDestroy, OnLayout: e.onLayout})
	if err != nil {
		e.t.Fatal(err)
	}
	e.s, e.m = s, m
}

// now ticks one second per call so every operation has its own time.
func (e *env) now() time.Time { return time.Unix(0, e.clock.Add(int64(time.Second))) }

// restart checks, closes and reopens the store: a server restart, which
// forgets open counts.
func (e *env) restart() {
	e.t.Helper()
	if err := e.m.Check(ctx); err != nil {
		e.t.Fatalf("check before restart: %v", err)
	}
	if err := e.s.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

func (e *env) create(c Creds, parent wire.FID, name string) Attr {
	e.t.Helper()
	a, _, err := e.m.Create(ctx, c, parent, name, CreateArgs{Mode: 0o644})
	if err != nil {
		e.t.Fatalf("create %q: %v", name, err)
	}
	return a
}

// mkdir makes a directory owned by c: root makes it and hands it over, so
// that c need not be able to write parent.
func (e *env) mkdir(c Creds, parent wire.FID, name string, mode uint32) Attr {
	e.t.Helper()
	a, _, err := e.m.Mkdir(ctx, root, parent, name, CreateArgs{Mode: mode})
	if err != nil {
		e.t.Fatalf("mkdir %q: %v", name, err)
	}
	if c.IsRoot() {
		return a
	}
	a, _, err = e.m.SetAttr(ctx, root, a.FID, SetAttrArgs{Valid: SetUID | SetGID, UID: c.UID, GID: c.GID})
	if err != nil {
		e.t.Fatalf("chown %q: %v", name, err)
	}
	return a
}

func (e *env) attr(f wire.FID) Attr {
	e.t.Helper()
	a, err := e.m.GetAttr(ctx, f)
	if err != nil {
		e.t.Fatalf("getattr %v: %v", f, err)
	}
	return a
}

// lookup returns the FID of name in parent, or the zero FID.
func (e *env) lookup(parent wire.FID, name string) wire.FID {
	e.t.Helper()
	a, err := e.m.Lookup(ctx, root, parent, name)
	if errors.Is(err, ErrNotFound) {
		return wire.FID{}
	}
	if err != nil {
		e.t.Fatalf("lookup %q: %v", name, err)
	}
	return a.FID
}

// wantErrno checks that err is the errno want (errors.Is, as the RPC layer
// maps errors).
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v (%d)", what, err, want, int(want))
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
