package clientit

import (
	"bytes"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
)

// A client that dies holding extent locks on a file's objects (a PW lock
// it wrote under, cached after its data went to the OSTs) is evicted by
// the OSTs once it misses the blocking callback: another client's write
// to the range goes through within the callback timeout, and what it wrote
// is what both the OSTs and a new reader see.
func TestDeadClientDataLocksEvicted(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 2, lockTimeout: 500 * time.Millisecond})
	a := c.mount(t)
	cfg := c.clientConfig()
	ln := cfg.LNet
	b := c.mountWith(t, cfg)
	ctx := tctx(t)

	fb, fid := striped(t, b, b.Root(), "f", 2, 64<<10)
	if _, err := fb.WriteAt(ctx, bytes.Repeat([]byte{'b'}, 200<<10), 0); err != nil {
		t.Fatal(err)
	}
	must(t, fb.Release(ctx)) // written back; the PW locks stay cached on b
	_ = ln.Close()           // b's node dies

	fa, err := a.Open(ctx, fid, syscall.O_RDWR)
	must(t, err)
	defer fa.Release(ctx)
	want := bytes.Repeat([]byte{'a'}, 100<<10)
	if _, err := fa.WriteAt(ctx, want, 50<<10); err != nil {
		t.Fatal(err)
	}
	must(t, fa.Flush(ctx))
	timeouts := 0
	for i, n := range c.oss {
		vals, err := n.srv.Node().Params.Get("ldlm.namespaces.filter-" + fsname + "-OST000" + strconv.Itoa(i) +
			"_UUID.lock_timeouts")
		if err != nil || len(vals) != 1 {
			t.Fatalf("lock_timeouts: %v %v", vals, err)
		}
		if vals[0].Value != "0" {
			timeouts++
		}
	}
	if timeouts == 0 {
		t.Error("a's write went through without b's locks timing out")
	}

	r := c.mount(t)
	fr, err := r.Open(ctx, fid, syscall.O_RDONLY)
	must(t, err)
	defer fr.Release(ctx)
	got := make([]byte, 200<<10)
	n, err := fr.ReadAt(ctx, got, 0)
	must(t, err)
	exp := bytes.Repeat([]byte{'b'}, 200<<10)
	copy(exp[50<<10:], want)
	if n != len(exp) || !bytes.Equal(got[:n], exp) {
		t.Errorf("a new reader reads %d bytes, not b's data overwritten by a's", n)
	}
}
