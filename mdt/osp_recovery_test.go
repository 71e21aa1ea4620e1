package mdt

import (
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// A restarted MDT keeps the objects its OST proxies precreated before the
// restart until its recovery window ends: then a replayed create's
// objects (claimed) stay and the other unused ones are destroyed.
func TestRecoveryKeepsClaimedPrecreatedObjects(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	f, err := e.create(wire.RootFID, "f", tmpl(t, 1, 0, -1))
	mustOK(t, "create", err)
	used := objects(decode(t, f.Layout))
	before := e.oss.Objects(0)
	if len(before) < len(used)+2 {
		t.Fatalf("%d objects on the OST for %d used: nothing precreated ahead?", len(before), len(used))
	}
	x := before[len(before)-1] // in the pool, unused: a create acknowledged, not committed
	calls := e.oss.OrphanCalls(0)

	e.restartServer()
	mustOK(t, "OSTs back", e.srv.WaitOSTs(ctxTimeout(t), 1))
	for _, o := range before {
		if !e.oss.Has(0, o) {
			t.Fatalf("object %v of the previous run destroyed in recovery", o)
		}
	}
	if n := e.oss.OrphanCalls(0); n != calls {
		t.Fatalf("%d orphan cleanups, %d before: one sent in recovery", n, calls)
	}
	// The replay of the create of x claims it.
	l := decode(t, f.Layout)
	l.Components[0].Stripe.Objects[0].FID = x
	blob, err := layout.Encode(l)
	mustOK(t, "encode", err)
	e.srv.claimObjects(blob)
	e.srv.claimObjects(nil)            // a create without a layout
	e.srv.claimObjects([]byte("junk")) // logged

	e.srv.EndRecovery()
	waitFor(t, "orphans destroyed", func() bool {
		left := 0
		for _, o := range before {
			if e.oss.Has(0, o) {
				left++
			}
		}
		return left == len(used)+1
	})
	if !e.oss.Has(0, x) || e.gone(used) {
		t.Fatalf("claimed %v or used %v destroyed", x, used)
	}
	if in := e.srv.OSP(0).Info(); in.OrphansQueued != uint64(len(before)-len(used)-1) {
		t.Fatalf("info %+v", in)
	}
}
