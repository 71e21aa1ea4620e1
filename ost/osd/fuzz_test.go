package osd

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

func FuzzDecodeAttr(f *testing.F) {
	f.Add(encodeAttr(nil, Attr{}))
	f.Add(encodeAttr(nil, Attr{UID: 1, Mtime: time.Unix(-5, 999999999), Valid: AttrUID | AttrMtime}))
	f.Add(encodeAttr(nil, Attr{
		GID: 2, Atime: time.Unix(1, 2), Ctime: time.Unix(3, 4), LayoutVersion: 5,
		FilterFID: FilterFID{Parent: wire.FID{Seq: 0x200000401, Oid: 1}, StripeIndex: 1, CompEnd: 1<<64 - 1},
		Valid:     SetMask,
	}))
	f.Add(make([]byte, attrRecordSize))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAttr(b)
		if err != nil {
			return
		}
		b2 := encodeAttr(nil, a)
		a2, err := decodeAttr(b2)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", a, a2)
		}
	})
}

func TestAttrRecordSize(t *testing.T) {
	if n := len(encodeAttr(nil, Attr{Valid: SetMask})); n != attrRecordSize {
		t.Fatalf("record of %d bytes, want %d", n, attrRecordSize)
	}
}

func FuzzDecodeLabel(f *testing.F) {
	b, _ := encodeLabel(Label{FSName: "testfs", Index: 3, UUID: "testfs-OST0003_UUID", Instance: "ab",
		Format: FormatVersion, Attrs: AttrsXattr, MGSNodes: []string{"1.2.3.4@tcp"}, Params: []string{"a=b"}})
	f.Add(b)
	f.Add([]byte(`{"fsname":"x","format":1}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeLabel(b)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("decoded an invalid label: %v", err)
		}
		b2, err := encodeLabel(l)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := decodeLabel(b2)
		if err != nil || !reflect.DeepEqual(l, l2) {
			t.Fatalf("round trip: %+v -> %+v, %v", l, l2, err)
		}
	})
}

func FuzzDecodeLastID(f *testing.F) {
	f.Add(binary.LittleEndian.AppendUint64(nil, 42))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<40))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeLastID(b)
		if err != nil {
			return
		}
		if len(b) != lastIDSize || binary.LittleEndian.Uint64(b) != uint64(v) {
			t.Fatalf("decoded %d from %x", v, b)
		}
	})
}
