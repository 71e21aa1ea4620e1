package rpcstats

import (
	"strings"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

func TestStats(t *testing.T) {
	s := New()
	s.RPC(wire.OSTWrite, 300*time.Microsecond)
	s.RPC(wire.OSTWrite, 100*time.Microsecond)
	s.RPC(wire.MDSGetattr, time.Millisecond)
	s.Write.Add(4096)
	s.Write.Add(1 << 20)
	if s.Count(wire.OSTWrite) != 2 || s.Total() != 3 || s.Count(wire.Opcode(9999)) != 0 {
		t.Fatal(s.Count(wire.OSTWrite), s.Total())
	}
	out := s.Format(time.Unix(1700000000, 5))
	for _, want := range []string{
		"snapshot_time             1700000000.000000005 secs.nsecs\n",
		"write_bytes               2 samples [bytes] 4096 1048576 1052672\n",
		"ost_write                 2 samples [usec] 100 300 400\n",
		"mds_getattr               1 samples [usec] 1000 1000 1000\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "read_bytes") || strings.Contains(out, "ost_read") {
		t.Errorf("counters without samples printed:\n%s", out)
	}
	s.Clear()
	if s.Total() != 0 || strings.Contains(s.Format(time.Now()), "samples") {
		t.Fatal("Clear")
	}
}
