package lnet_test

import (
	"fmt"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func TestMatching(t *testing.T) {
	type me struct {
		name      string
		src       string // "a", "b" or "" (any NID)
		srcPID    uint32
		bits      uint64
		ignore    uint64
		opts      lnet.MDOptions
		size      int
		threshold int
		maxSize   int
		pos       lnet.Position
	}
	type msg struct {
		bits    uint64
		n       int
		offset  uint32
		want    string // ME name, or "" for a drop
		wantOff uint32
		wantLen uint32
	}
	inf := lnet.ThresholdInf
	op := lnet.MDOpPut
	cases := []struct {
		name string
		mes  []me
		msgs []msg
	}{
		{"exact bits", []me{{name: "x", bits: 1, opts: op, size: 8, threshold: inf}},
			[]msg{{bits: 1, n: 3, want: "x", wantLen: 3}, {bits: 2, n: 3}}},
		{"ignore bits", []me{{name: "x", bits: 0x100, ignore: 0xff, opts: op, size: 8, threshold: inf}},
			[]msg{{bits: 0x1ab, n: 1, want: "x", wantLen: 1}, {bits: 0x2ab, n: 1}, {bits: 0x100, n: 1, want: "x", wantOff: 1, wantLen: 1}}},
		{"source NID filter", []me{
			{name: "x", src: "b", opts: op, size: 8, threshold: inf},
			{name: "y", src: "a", opts: op, size: 8, threshold: inf}},
			[]msg{{n: 2, want: "y", wantLen: 2}}},
		{"source PID filter", []me{
			{name: "x", srcPID: 999, opts: op, size: 8, threshold: inf},
			{name: "y", srcPID: lnet.PIDLustre, opts: op, size: 8, threshold: inf}},
			[]msg{{n: 2, want: "y", wantLen: 2}}},
		{"threshold moves on", []me{
			{name: "x", opts: op, size: 8, threshold: 2},
			{name: "y", opts: op, size: 8, threshold: inf}},
			[]msg{{n: 1, want: "x", wantLen: 1}, {n: 1, want: "x", wantOff: 1, wantLen: 1}, {n: 1, want: "y", wantLen: 1}}},
		{"operation", []me{
			{name: "x", opts: lnet.MDOpGet, size: 8, threshold: inf},
			{name: "y", opts: op, size: 8, threshold: inf}},
			[]msg{{n: 1, want: "y", wantLen: 1}}},
		{"too long is dropped, not passed on", []me{
			{name: "x", opts: op, size: 4, threshold: inf},
			{name: "y", opts: op, size: 64, threshold: inf}},
			[]msg{{n: 8}, {n: 4, want: "x", wantLen: 4}, {n: 1}}},
		{"truncate", []me{{name: "x", opts: op | lnet.MDTruncate, size: 4, threshold: inf}},
			[]msg{{n: 8, want: "x", wantLen: 4}, {n: 8, want: "x", wantOff: 4, wantLen: 0}}},
		{"local offset advances", []me{{name: "x", opts: op, size: 10, threshold: inf}},
			[]msg{{n: 4, offset: 9, want: "x", wantLen: 4}, {n: 4, want: "x", wantOff: 4, wantLen: 4}, {n: 4}, {n: 2, want: "x", wantOff: 8, wantLen: 2}}},
		{"manage remote", []me{{name: "x", opts: op | lnet.MDManageRemote, size: 10, threshold: inf}},
			[]msg{{n: 4, offset: 6, want: "x", wantOff: 6, wantLen: 4}, {n: 4, offset: 7}, {n: 4, offset: 0, want: "x", wantLen: 4},
				{n: 0, offset: 99, want: "x", wantOff: 10}}},
		{"manage remote truncates", []me{{name: "x", opts: op | lnet.MDManageRemote | lnet.MDTruncate, size: 10, threshold: inf}},
			[]msg{{n: 4, offset: 8, want: "x", wantOff: 8, wantLen: 2}}},
		{"insert before", []me{
			{name: "x", opts: op, size: 8, threshold: 1},
			{name: "y", opts: op, size: 8, threshold: 1, pos: lnet.InsertBefore},
			{name: "z", opts: op, size: 8, threshold: 1, pos: lnet.InsertBefore}},
			[]msg{{n: 1, want: "z", wantLen: 1}, {n: 1, want: "y", wantLen: 1}, {n: 1, want: "x", wantLen: 1}, {n: 1}}},
		{"wildcard before exact", []me{
			{name: "w", bits: 0x10, ignore: 0xf, opts: op, size: 8, threshold: 1},
			{name: "e", bits: 0x13, opts: op, size: 8, threshold: 1}},
			[]msg{{bits: 0x13, n: 1, want: "w", wantLen: 1}, {bits: 0x13, n: 1, want: "e", wantLen: 1}, {bits: 0x13, n: 1}}},
		{"exact before wildcard", []me{
			{name: "w", bits: 0x10, ignore: 0xf, opts: op, size: 8, threshold: 1},
			{name: "e", bits: 0x13, opts: op, size: 8, threshold: 1, pos: lnet.InsertBefore},
			{name: "f", bits: 0x13, opts: op, size: 8, threshold: 1}},
			[]msg{{bits: 0x13, n: 1, want: "e", wantLen: 1}, {bits: 0x13, n: 1, want: "w", wantLen: 1}, {bits: 0x13, n: 1, want: "f", wantLen: 1}}},
		{"max size", []me{{name: "x", opts: op | lnet.MDMaxSize, size: 10, maxSize: 4, threshold: inf}},
			[]msg{{n: 5}, {n: 4, want: "x", wantLen: 4}, {n: 3, want: "x", wantOff: 4, wantLen: 3}, {n: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := pair(t)
			recs := map[string]*recorder{}
			bufs := map[string][]byte{}
			for _, m := range c.mes {
				ms := lnet.MatchSpec{MatchBits: m.bits, IgnoreBits: m.ignore, Source: lnet.ProcessID{PID: m.srcPID}}
				switch m.src {
				case "a":
					ms.Source.NID = a.NIDs()[0]
				case "b":
					ms.Source.NID = b.NIDs()[0]
				}
				r := newRecorder()
				recs[m.name] = r
				bufs[m.name] = make([]byte, m.size)
				mustAttach(t, b, 6, ms, lnet.MD{Buf: bufs[m.name], Threshold: m.threshold,
					Options: m.opts, MaxSize: m.maxSize, Handler: r.handler, UserData: m.name}, m.pos)
			}
			drops := uint64(0)
			for i, m := range c.msgs {
				data := make([]byte, m.n)
				for j := range data {
					data[j] = byte(i + 1)
				}
				put(t, a, data, lnet.PutArgs{Target: pid(b), Portal: 6, MatchBits: m.bits, Offset: m.offset})
				where := fmt.Sprintf("message %d", i)
				if m.want == "" {
					drops++
					if d := b.NIs()[0].DropCount; d != drops {
						t.Errorf("%s: drop count %d, want %d", where, d, drops)
					}
				}
				for name, r := range recs {
					if name != m.want {
						r.none(t)
						continue
					}
					ev := r.next(t)
					if ev.Type != lnet.EventPut || ev.UserData != name || ev.Offset != m.wantOff ||
						ev.MLength != m.wantLen || ev.RLength != uint32(m.n) || ev.MatchBits != m.bits ||
						ev.Initiator != pid(a) {
						t.Errorf("%s: event %+v, want offset %d mlength %d", where, ev, m.wantOff, m.wantLen)
					}
					buf := bufs[name]
					for j := range int(ev.MLength) {
						if buf[int(ev.Offset)+j] != byte(i+1) {
							t.Fatalf("%s: byte %d not written", where, j)
						}
					}
				}
			}
		})
	}
}
