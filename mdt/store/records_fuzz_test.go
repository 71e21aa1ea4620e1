package store

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// Every decoder of stored bytes is fuzzed: it must not panic, and what it
// accepts must encode back to the same bytes.

func FuzzDecodeInode(f *testing.F) {
	f.Add(AppendInode(nil, &Inode{Mode: TypeDir | 0o755, Nlink: 2, Atime: -1, Version: 9}))
	f.Add([]byte{recV1})
	f.Add(make([]byte, inodeRecSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		ino, err := DecodeInode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendInode(nil, &ino), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzDecodeDirent(f *testing.F) {
	f.Add(AppendDirent(nil, Dirent{FID: wire.RootFID, Type: 4}))
	f.Add([]byte{recV1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDirent(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendDirent(nil, d), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	f.Add(AppendReply(nil, ReplyData{XID: 1, Transno: 2, Result: -17, Reply: []byte("body")}))
	f.Add(AppendReply(nil, ReplyData{}))
	f.Add([]byte{recV1, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReply(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendReply(nil, r), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzDecodeLabel(f *testing.F) {
	f.Add(AppendLabel(nil, label0))
	f.Add(AppendLabel(nil, labelFull))
	f.Add(appendLabelV1(label0))
	f.Add([]byte{recV1, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLabel(b)
		if err != nil {
			return
		}
		if l.Validate() != nil {
			t.Fatalf("decoded an invalid label from %x", b)
		}
		again := AppendLabel(nil, l)
		if b[0] == labelV2 && !bytes.Equal(again, b) {
			t.Fatalf("round trip of %x", b)
		}
		l2, err := DecodeLabel(again)
		if err != nil || !reflect.DeepEqual(l, l2) {
			t.Fatalf("re-encoding of %x: %+v, %v", b, l2, err)
		}
	})
}

// labelFull is a label with every field of format 2 set.
var labelFull = Label{FSName: "testfs", Index: 3, UUID: "testfs-MDT0003_UUID",
	MGSNodes:     [][]lnet.NID{{lnet.MustParseNID("10.0.0.1@tcp"), lnet.MustParseNID("10.1.0.1@o2ib")}, {lnet.MustParseNID("10.0.0.2@tcp")}},
	ServiceNodes: [][]lnet.NID{{lnet.MustParseNID("0@lo")}},
	Params:       []string{"lov.stripesize=2M", "lov.stripecount=2"}}

// appendLabelV1 writes a label record as storage version 1 did.
func appendLabelV1(l Label) []byte {
	b := []byte{recV1}
	b = binary.LittleEndian.AppendUint32(b, l.Index)
	b = append(b, byte(len(l.FSName)))
	b = append(b, l.FSName...)
	b = append(b, byte(len(l.UUID)))
	return append(b, l.UUID...)
}

func FuzzDecodeSmallRecords(f *testing.F) {
	f.Add(uint8(0), AppendOrphan(nil, Orphan{Time: 5}))
	f.Add(uint8(1), AppendSeqRange(nil, SeqRange{Start: 1, End: 9, Next: 3}))
	f.Add(uint8(2), appendLocalSeq(nil, localSeq{Seq: 7, NextOid: 2}))
	f.Add(uint8(3), append(u64Key(4), appendFLD(nil, FLDRange{End: 9, Type: FLDMDT, Index: 1})...))
	f.Add(uint8(4), AppendOSTDestroy(nil, OSTDestroy{File: wire.RootFID, Time: 7}))
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		var again []byte
		switch which % 5 {
		case 0:
			o, err := DecodeOrphan(b)
			if err != nil {
				return
			}
			again = AppendOrphan(nil, o)
		case 1:
			r, err := DecodeSeqRange(b)
			if err != nil {
				return
			}
			again = AppendSeqRange(nil, r)
		case 2:
			l, err := decodeLocalSeq(b)
			if err != nil {
				return
			}
			again = appendLocalSeq(nil, l)
		case 3:
			if len(b) < 8 {
				return
			}
			r, err := DecodeFLD(b[:8], b[8:])
			if err != nil {
				return
			}
			again = append(u64Key(r.Start), appendFLD(nil, r)...)
		case 4:
			d, err := DecodeOSTDestroy(b)
			if err != nil {
				return
			}
			again = AppendOSTDestroy(nil, d)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip of %x: %x", b, again)
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add(direntKey(wire.RootFID, "a name"))
	f.Add(linkKey(wire.RootFID, wire.FID{Seq: 2}, "n"))
	f.Add(replyKey("client_UUID", 3))
	f.Add(ostDestroyKey(5, wire.FID{Seq: 0x100050000, Oid: 9}))
	f.Fuzz(func(t *testing.T, k []byte) {
		if p, _, name, err := parseDirentKey(k); err == nil && !bytes.Equal(direntKey(p, name), k) {
			t.Fatalf("dirent key round trip of %x", k)
		}
		if fid, p, name, err := parseLinkKey(k); err == nil && !bytes.Equal(linkKey(fid, p, name), k) {
			t.Fatalf("link key round trip of %x", k)
		}
		if c, tag, err := parseReplyKey(k); err == nil && !bytes.Equal(replyKey(c, tag), k) {
			t.Fatalf("reply key round trip of %x", k)
		}
		if ost, obj, err := parseOSTDestroyKey(k); err == nil && !bytes.Equal(ostDestroyKey(ost, obj), k) {
			t.Fatalf("ost destroy key round trip of %x", k)
		}
	})
}
