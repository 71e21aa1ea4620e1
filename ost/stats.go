package ost

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stria-fs/stria/wire"
)

// maxOSTOpcode bounds the OST opcodes counted per target.
const maxOSTOpcode = wire.OSTSeek

// opStats counts one target's requests by opcode and its bulk bytes, for
// `lctl get_param obdfilter.*.stats`. Counters are atomics: no lock.
type opStats struct {
	ops          [maxOSTOpcode + 1]atomic.Uint64
	read, write  byteStat
	since        atomic.Int64 // unix ns of the last clear
	errors       atomic.Uint64
	checksumErrs atomic.Uint64
}

// byteStat is Lustre's sample counter: count, min, max, sum.
type byteStat struct {
	n, sum   atomic.Uint64
	min, max atomic.Uint64 // min holds ^0 until the first sample
}

func (b *byteStat) add(v uint64) {
	b.n.Add(1)
	b.sum.Add(v)
	for {
		cur := b.min.Load()
		if v >= cur || b.min.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := b.max.Load()
		if v <= cur || b.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

func (b *byteStat) clear() {
	b.n.Store(0)
	b.sum.Store(0)
	b.min.Store(math.MaxUint64)
	b.max.Store(0)
}

func (s *opStats) clear() {
	for i := range s.ops {
		s.ops[i].Store(0)
	}
	s.read.clear()
	s.write.clear()
	s.errors.Store(0)
	s.checksumErrs.Store(0)
	s.since.Store(time.Now().UnixNano())
}

func (s *opStats) count(op wire.Opcode) {
	if op <= maxOSTOpcode {
		s.ops[op].Add(1)
	}
}

// format prints the counters as Lustre's lprocfs stats: a snapshot time,
// then one line per counter that has samples.
func (s *opStats) format(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "snapshot_time", now.Unix(), now.Nanosecond())
	since := time.Unix(0, s.since.Load())
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "start_time", since.Unix(), since.Nanosecond())
	for _, bs := range []struct {
		name string
		st   *byteStat
	}{{"read_bytes", &s.read}, {"write_bytes", &s.write}} {
		if n := bs.st.n.Load(); n > 0 {
			fmt.Fprintf(&b, "%-25s %d samples [bytes] %d %d %d\n", bs.name, n, bs.st.min.Load(), bs.st.max.Load(), bs.st.sum.Load())
		}
	}
	for op := range s.ops {
		if n := s.ops[op].Load(); n > 0 {
			name := strings.TrimPrefix(wire.Opcode(op).String(), "ost_")
			fmt.Fprintf(&b, "%-25s %d samples [reqs]\n", name, n)
		}
	}
	if n := s.errors.Load(); n > 0 {
		fmt.Fprintf(&b, "%-25s %d samples [reqs]\n", "errors", n)
	}
	if n := s.checksumErrs.Load(); n > 0 {
		fmt.Fprintf(&b, "%-25s %d samples [reqs]\n", "checksum_errors", n)
	}
	return b.String()
}
