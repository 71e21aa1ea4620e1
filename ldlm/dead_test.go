package ldlm

import (
	"testing"

	"github.com/stria-fs/stria/wire"
)

// A client whose node is gone (its network interface closed) is evicted
// like a silent one.
func TestEvictDeadClient(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	a.enqueue(plain(1, wire.LockPR)).Release()
	_ = a.ln.Close()
	b.enqueue(plain(1, wire.LockEX)).Release()
	if ev := cl.evictedUUIDs(); len(ev) != 1 || ev[0] != a.uuid {
		t.Fatalf("evicted %v", ev)
	}
	cl.mustCheck()
}
