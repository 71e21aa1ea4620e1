package lmv

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

func TestRoute(t *testing.T) {
	l := New()
	if _, err := l.Route(wire.RootFID); !errors.Is(err, syscall.EIO) {
		t.Fatalf("no MDT: %v", err)
	}
	var ms []*mdc.MDC
	for _, i := range []uint32{1, 0} {
		m, err := mdc.New(mdc.Config{Target: "x", Index: i, NIDs: []lnet.NID{lnet.LoNID(1)}, LNet: &lnet.LNet{}})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		if !l.Add(m) || l.Add(m) {
			t.Fatal("Add")
		}
	}
	if m, err := l.Route(wire.FID{Seq: 0x200000401, Oid: 1}); err != nil || m != ms[1] {
		t.Fatalf("route: %v", err)
	}
	if all := l.All(); len(all) != 2 || all[0].Index() != 0 || all[1].Index() != 1 {
		t.Fatal("All not by index")
	}
}
