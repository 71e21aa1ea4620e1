package mgs

import (
	"testing"

	"github.com/stria-fs/stria/wire"
)

// newBenchEnv is an MGS with one file system of one MDT and 63 OSTs, and
// a client that registered them.
func newBenchEnv(b *testing.B) (*env, *peer) {
	e := newEnv(b)
	p := e.newPeer()
	mustRegister(b, p, reg("testfs", wire.KindMDT, 0, p.node()))
	for i := uint32(0); i < 63; i++ {
		mustRegister(b, p, reg("testfs", wire.KindOST, i, p.node()))
	}
	return e, p
}

// BenchmarkConfigPollUnchanged measures what an idle watcher costs the
// MGS and the network per poll: one MGS_CONFIG_READ answered Unchanged.
func BenchmarkConfigPollUnchanged(b *testing.B) {
	_, p := newBenchEnv(b)
	gen := mustConfig(b, p, "testfs").Gen
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := p.mgc.ConfigSince(ctx(b), "testfs", gen)
		if err != nil || !rep.Unchanged {
			b.Fatalf("poll: %+v %v", rep, err)
		}
	}
}

// BenchmarkConfigRead measures a whole configuration read (64 targets),
// what a mount and every change cost.
func BenchmarkConfigRead(b *testing.B) {
	_, p := newBenchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := p.mgc.Config(ctx(b), "testfs")
		if err != nil || len(rep.Targets) != 64 {
			b.Fatalf("config: %d targets, %v", len(rep.Targets), err)
		}
	}
}

// BenchmarkRegisterUnchanged measures a target's re-registration that
// changes nothing (one fsync'd bbolt transaction).
func BenchmarkRegisterUnchanged(b *testing.B) {
	_, p := newBenchEnv(b)
	req := reg("testfs", wire.KindOST, 0, p.node())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustRegister(b, p, req)
	}
}
