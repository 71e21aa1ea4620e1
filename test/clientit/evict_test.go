package clientit

import (
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/wire"
)

// A client that dies holding metadata locks (it no longer answers
// callbacks) is evicted once the callback timeout passes: another
// client's change of an object it cached goes through, and its locks are
// gone from the MDT.
func TestDeadClientEvicted(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1, lockTimeout: 500 * time.Millisecond})
	a := c.mount(t)
	cfg := c.clientConfig()
	ln := cfg.LNet
	b := c.mountWith(t, cfg)
	ctx := tctx(t)
	fid, _, err := a.Mknod(ctx, a.Root(), "f", 0o100644, 0)
	must(t, err)
	// b caches f under a lock.
	cached := false
	for range 100 {
		before := mdcRPCs(t, b)
		_, err := b.GetAttr(ctx, fid)
		must(t, err)
		if mdcRPCs(t, b) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("b never cached f")
	}
	locks := func() string {
		vals, err := c.mds.Node().Params.Get("ldlm.namespaces.mdt-" + fsname + "-MDT0000_UUID.lock_timeouts")
		if err != nil || len(vals) != 1 {
			t.Fatalf("lock_timeouts: %v %v", vals, err)
		}
		return vals[0].Value
	}
	if got := locks(); got != "0" {
		t.Fatalf("lock_timeouts %s before", got)
	}
	// b's node goes silent.
	_ = ln.Close()
	_, err = a.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o600})
	must(t, err)
	if got := locks(); got == "0" {
		t.Error("a's chmod went through without b's lock timing out")
	}
	attr, err := a.GetAttr(ctx, fid)
	must(t, err)
	if attr.Mode&0o7777 != 0o600 {
		t.Errorf("mode %o", attr.Mode&0o7777)
	}
}
