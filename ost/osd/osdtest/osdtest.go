// Package osdtest is the conformance suite every osd.Store engine passes:
// one set of behaviours (I/O, holes, punch, truncate, attributes, destroy,
// errors, space limits, sequences, concurrency, persistence) checked the
// same way against each engine, with the in-memory engine as reference.
//
// An engine's test calls Run with a Factory. Stores of a persistent engine
// also implement Reopener, which turns on the restart cases.
package osdtest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

// Factory returns a new, empty store made with opts for one test. The
// suite closes it (and any store Reopen returns); Close twice must be
// harmless.
type Factory func(t *testing.T, opts osd.Options) osd.Store

// Reopener is implemented by stores of a persistent engine: Reopen closes
// the store and opens the same target again with the same options, as a
// restarted server would.
type Reopener interface {
	Reopen(t *testing.T) osd.Store
}

type testCase struct {
	name string
	opts osd.Options
	run  func(t *testing.T, s osd.Store)
}

// Run runs the whole suite against the engine newStore makes, each case as
// a parallel subtest on a store of its own.
func Run(t *testing.T, newStore Factory) {
	var cases []testCase
	cases = append(cases, ioCases()...)
	cases = append(cases, allocCases()...)
	cases = append(cases, metaCases()...)
	cases = append(cases, spaceCases()...)
	cases = append(cases, seqCases()...)
	cases = append(cases, concurrentCases()...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, c.opts)
			t.Cleanup(func() { s.Close() })
			c.run(t, s)
		})
	}
	for _, c := range persistCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, c.opts)
			t.Cleanup(func() { s.Close() })
			if _, ok := s.(Reopener); !ok {
				t.Logf("engine is not persistent: %s does not apply", c.name)
				return
			}
			c.run(t, s)
		})
	}
}

// reopen restarts s, registering the new store's Close.
func reopen(t *testing.T, s osd.Store) osd.Store {
	t.Helper()
	n := s.(Reopener).Reopen(t)
	t.Cleanup(func() { n.Close() })
	return n
}

const testSeq uint64 = 0x2c0000400

func fid(oid uint32) wire.FID { return wire.FID{Seq: testSeq, Oid: oid} }

func create(t *testing.T, s osd.Store, f wire.FID) {
	t.Helper()
	if err := s.Create(t.Context(), f, osd.Attr{}); err != nil {
		t.Fatalf("Create %v: %v", f, err)
	}
}

// pattern returns n bytes that differ for every seed and offset.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func write(t *testing.T, s osd.Store, f wire.FID, p []byte, off int64) {
	t.Helper()
	n, err := s.WriteAt(t.Context(), f, p, off)
	if err != nil || n != len(p) {
		t.Fatalf("WriteAt %v %d bytes at %d: n=%d err=%v", f, len(p), off, n, err)
	}
}

// read returns n bytes at off, failing the test on a short read.
func read(t *testing.T, s osd.Store, f wire.FID, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := s.ReadAt(t.Context(), f, p, off)
	if err != nil || got != n {
		t.Fatalf("ReadAt %v %d bytes at %d: n=%d err=%v", f, n, off, got, err)
	}
	return p
}

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			t.Fatalf("%s: differs at byte %d of %d (got %#x)", what, i, len(want), got[i])
		}
	}
	t.Fatalf("%s: got %d bytes, want %d", what, len(got), len(want))
}

func wantZeros(t *testing.T, what string, got []byte) {
	t.Helper()
	wantBytes(t, what, got, make([]byte, len(got)))
}

// wantErr checks that err is sentinel and maps to errno, as the RPC layer
// will see it.
func wantErr(t *testing.T, what string, err, sentinel error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: err = %v, want %v", what, err, sentinel)
	}
	if !errors.Is(err, errno) {
		t.Fatalf("%s: err = %v does not match errno %v", what, err, errno)
	}
	var e syscall.Errno
	if !errors.As(err, &e) || e != errno {
		t.Fatalf("%s: errors.As errno = %v, want %v", what, e, errno)
	}
}

func attr(t *testing.T, s osd.Store, f wire.FID) osd.Attr {
	t.Helper()
	a, err := s.GetAttr(t.Context(), f)
	if err != nil {
		t.Fatalf("GetAttr %v: %v", f, err)
	}
	return a
}

func wantSize(t *testing.T, s osd.Store, f wire.FID, size int64) {
	t.Helper()
	if a := attr(t, s, f); a.Size != size {
		t.Fatalf("size of %v = %d, want %d", f, a.Size, size)
	}
}

// readEOF checks a read that runs into the end of the object: n bytes and io.EOF.
func readEOF(t *testing.T, s osd.Store, f wire.FID, off int64, buf, want int) []byte {
	t.Helper()
	p := make([]byte, buf)
	n, err := s.ReadAt(t.Context(), f, p, off)
	if n != want || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt %v %d at %d: n=%d err=%v, want n=%d io.EOF", f, buf, off, n, err, want)
	}
	return p[:n]
}
