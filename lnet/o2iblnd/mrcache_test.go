package o2iblnd

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

func TestMRCache(t *testing.T) {
	f := memverbs.NewFabric()
	d := f.AddDevice("mlx5_0", "ib0", netip.MustParseAddr("10.0.0.1"))
	dev, _, err := f.Open("ib0")
	if err != nil {
		t.Fatal(err)
	}
	pd, err := dev.AllocPD()
	if err != nil {
		t.Fatal(err)
	}
	c := newMRCache(pd, 2, 1<<20)
	bufs := [][]byte{make([]byte, 1000), make([]byte, 1000), make([]byte, 1000)}

	e0, err := c.get(bufs[0])
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := c.get(bufs[0][:10]); e != e0 {
		t.Fatal("a prefix of a registered buffer was registered again")
	}
	c.put(e0)
	c.put(e0)
	if s := c.stats(); s.Regs != 1 || s.Hits != 1 || s.Idle != 1 || d.MRs() != 1 {
		t.Fatalf("after reuse: %+v, %d MRs", s, d.MRs())
	}
	// Two more buffers: the idle, least recently used one goes.
	e1, _ := c.get(bufs[1])
	e2, _ := c.get(bufs[2])
	if s := c.stats(); s.Entries != 2 || d.MRs() != 2 {
		t.Fatalf("over the entry budget: %+v, %d MRs", s, d.MRs())
	}
	// Entries in use are never evicted, even over budget.
	e0, _ = c.get(bufs[0])
	if s := c.stats(); s.Entries != 3 || s.InUse != 3 || d.MRs() != 3 {
		t.Fatalf("in use over budget: %+v, %d MRs", s, d.MRs())
	}
	for _, e := range []*mrEntry{e0, e1, e2} {
		c.put(e)
	}
	if s := c.stats(); s.InUse != 0 || s.Entries != 2 || d.MRs() != 2 {
		t.Fatalf("idle: %+v, %d MRs", s, d.MRs())
	}
	// Registration failure is reported, not cached.
	d.SetMRLimit(2)
	if _, err := c.get(make([]byte, 10)); !errors.Is(err, verbs.ErrNoMemory) {
		t.Fatalf("registration over the device limit: %v", err)
	}
	d.SetMRLimit(0)
	// A buffer in use at close is deregistered by its last put.
	e, _ := c.get(bufs[2])
	if busy := c.close(); busy != 1 {
		t.Fatalf("close reported %d busy", busy)
	}
	if d.MRs() != 1 {
		t.Fatalf("%d MRs after close with one in use", d.MRs())
	}
	c.put(e)
	if d.MRs() != 0 {
		t.Fatalf("%d MRs after the last put", d.MRs())
	}
	if _, err := c.get(bufs[0]); err == nil {
		t.Fatal("get after close succeeded")
	}
	if err := pd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMRCacheGrowsRegistration(t *testing.T) {
	f := memverbs.NewFabric()
	d := f.AddDevice("mlx5_0", "ib0", netip.MustParseAddr("10.0.0.1"))
	dev, _, _ := f.Open("ib0")
	pd, _ := dev.AllocPD()
	c := newMRCache(pd, 8, 1<<20)
	buf := make([]byte, 4096)
	small, _ := c.get(buf[:100])
	whole, _ := c.get(buf) // same address, longer: registered anew
	if whole == small || whole.n != 4096 {
		t.Fatalf("whole buffer served by the short registration")
	}
	if d.MRs() != 2 {
		t.Fatalf("%d MRs while both are in use", d.MRs())
	}
	c.put(small) // replaced and idle: deregistered now
	if d.MRs() != 1 {
		t.Fatalf("%d MRs after the short one's last use", d.MRs())
	}
	if again, _ := c.get(buf[:100]); again != whole {
		t.Fatal("a prefix did not find the whole buffer's registration")
	}
	c.put(whole)
	c.put(whole)
	c.close()
	if d.MRs() != 0 {
		t.Fatalf("%d MRs after close", d.MRs())
	}
	_ = pd.Close()
	_ = dev.Close()
}
