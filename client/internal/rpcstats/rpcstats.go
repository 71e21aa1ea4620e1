// Package rpcstats counts a client device's RPCs by opcode, with their
// latency, and its bulk bytes, and prints them as Lustre's lprocfs stats
// files (`lctl get_param osc.*.stats`, `mdc.*.stats`). Counters are atomics:
// recording takes no lock.
package rpcstats

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stria-fs/stria/wire"
)

// Sample is Lustre's sample counter: count, min, max and sum.
type Sample struct {
	n, sum   atomic.Uint64
	min, max atomic.Uint64 // min holds MaxUint64 until the first sample
}

// Add records one sample of value v.
func (s *Sample) Add(v uint64) {
	s.n.Add(1)
	s.sum.Add(v)
	for {
		cur := s.min.Load()
		if v >= cur || s.min.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := s.max.Load()
		if v <= cur || s.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Count returns the number of samples.
func (s *Sample) Count() uint64 { return s.n.Load() }

// Sum returns the sum of the samples.
func (s *Sample) Sum() uint64 { return s.sum.Load() }

func (s *Sample) clear() {
	s.n.Store(0)
	s.sum.Store(0)
	s.min.Store(math.MaxUint64)
	s.max.Store(0)
}

// maxOpcode bounds the opcodes counted (the LDLM and MGS ones included).
const maxOpcode = 512

// Stats are one device's counters.
type Stats struct {
	ops   [maxOpcode]Sample // latency in µs, by opcode
	Read  Sample            // bytes per read RPC
	Write Sample            // bytes per write RPC
	since atomic.Int64      // unix ns of the last clear
}

// New returns zeroed counters.
func New() *Stats {
	s := &Stats{}
	s.Clear()
	return s
}

// RPC records one RPC of opcode op that took d.
func (s *Stats) RPC(op wire.Opcode, d time.Duration) {
	if op < maxOpcode {
		s.ops[op].Add(uint64(d.Microseconds()))
	}
}

// Count returns how many RPCs of opcode op were recorded.
func (s *Stats) Count(op wire.Opcode) uint64 {
	if op >= maxOpcode {
		return 0
	}
	return s.ops[op].Count()
}

// Total returns how many RPCs were recorded.
func (s *Stats) Total() uint64 {
	var n uint64
	for i := range s.ops {
		n += s.ops[i].Count()
	}
	return n
}

// Clear zeroes the counters (writing a stats file clears it, as Lustre).
func (s *Stats) Clear() {
	for i := range s.ops {
		s.ops[i].clear()
	}
	s.Read.clear()
	s.Write.clear()
	s.since.Store(time.Now().UnixNano())
}

// Format prints the counters as Lustre's stats files: snapshot and start
// times, then one line per counter that has samples.
func (s *Stats) Format(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "snapshot_time", now.Unix(), now.Nanosecond())
	since := time.Unix(0, s.since.Load())
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "start_time", since.Unix(), since.Nanosecond())
	line := func(name, unit string, c *Sample) {
		if n := c.n.Load(); n > 0 {
			fmt.Fprintf(&b, "%-25s %d samples [%s] %d %d %d\n", name, n, unit, c.min.Load(), c.max.Load(), c.sum.Load())
		}
	}
	line("read_bytes", "bytes", &s.Read)
	line("write_bytes", "bytes", &s.Write)
	for op := range s.ops {
		line(wire.Opcode(op).String(), "usec", &s.ops[op])
	}
	return b.String()
}
