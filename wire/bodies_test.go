package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

// sampleBodies holds one filled-in value of every MDT, OST and MGS body.
func sampleBodies() []Body {
	fid := FID{Seq: 0x200000401, Oid: 7, Ver: 0}
	attr := Attr{Valid: AttrMode | AttrSize | AttrMtime, Mode: 0o100644, UID: 1000, GID: 1000,
		Size: 1 << 40, Blocks: 8, Nlink: 1, Atime: 1, Mtime: -2, Ctime: 3, Flags: 4}
	nodes := []ServiceNode{
		{NIDs: []lnet.NID{lnet.MustParseNID("127.0.0.3@tcp"), lnet.MustParseNID("10.0.0.3@o2ib")}},
		{NIDs: []lnet.NID{lnet.MustParseNID("127.0.0.5@tcp")}},
	}
	return []Body{
		&Attr{},
		&attr,
		&StatFS{Blocks: 100, BFree: 50, BAvail: 40, Files: 10, FFree: 5, BSize: 4096, NameLen: 255, State: StateNoSpace},
		&FIDRequest{FID: fid},
		&Empty{},
		&GetRootReply{Root: RootFID},
		&GetattrNameRequest{Parent: RootFID, Name: "a"},
		&GetattrNameRequest{Parent: RootFID, Name: "a", Lock: 77},
		&InodeReply{FID: fid, Attr: attr, Layout: []byte{1, 2, 3}, Handle: 9, Created: true},
		&InodeReply{FID: fid, Attr: attr, Lock: &LockReply{Desc: LockDesc{Res: ResIDOfFID(fid), Type: LockIBits,
			Mode: LockPR, Policy: Policy{Bits: InodeLockLookup}}, Handle: 5}},
		&SetattrRequest{FID: fid, Attr: attr},
		&CreateRequest{Parent: RootFID, Name: "d", Mode: 0o40755, Target: "x/y", Layout: []byte{5}, MDTIndex: -1},
		&CreateRequest{Parent: RootFID, Name: "d", Mode: 0o40755, MDTIndex: 2, Lock: 3},
		&OpenRequest{Parent: RootFID, Name: "f", Flags: 0o101, Mode: 0o644},
		&OpenRequest{FID: fid, Flags: 2},
		&OpenRequest{FID: fid, Flags: 2, Handle: 0x1234567890},
		&OpenRequest{Parent: RootFID, Name: "f", Flags: 0o101, Mode: 0o644, Lock: 8},
		&CloseRequest{FID: fid, Handle: 3, Attr: attr},
		&LinkRequest{FID: fid, Parent: RootFID, Name: "h"},
		&UnlinkRequest{Parent: RootFID, Name: "u", Dir: true},
		&UnlinkRequest{Parent: RootFID, Name: "u", Cancels: CancelList{Handles: []LockHandle{7, 8}}},
		&RenameRequest{SrcParent: RootFID, SrcName: "a", DstParent: fid, DstName: "b", Flags: RenameExchange},
		&SetxattrRequest{FID: fid, Name: "user.k", Value: []byte("v"), Flags: XattrCreate},
		&GetxattrRequest{FID: fid, Name: "user.k", Size: 100},
		&GetxattrReply{Value: []byte("v"), Len: 1},
		&ReadpageRequest{FID: RootFID, Cookie: 42, Count: 100, Plus: true},
		&ReadpageReply{Entries: []Dirent{{Name: "a", FID: fid, Type: 0o100000, Cookie: 5, Attr: attr}}, End: true},
		&Fid2pathRequest{FID: fid, LinkNo: 1},
		&Fid2pathReply{Path: "d/f", NextLinkNo: 2},
		&IORequest{FID: fid, Offset: 1 << 30, Length: 1 << 20, Checksum: 0xdeadbeef, GrantWant: 1 << 25},
		&IOReply{Length: 4096, Checksum: 1, Size: 8192, Grant: 1 << 20},
		&PunchRequest{FID: fid, Start: 10, End: PunchToEOF},
		&ObjectAttrRequest{FID: fid, Attr: attr},
		&PrecreateRequest{MDTIndex: 0, Count: 32},
		&PrecreateReply{First: IDIF(1, 17), Count: 32},
		&TargetRegRequest{FSName: "stria", Kind: KindOST, Index: 3, UUID: "stria-OST0003_UUID",
			Nodes: nodes, Params: []string{"sys.timeout=40"}},
		&TargetRegReply{Gen: 4},
		&ConfigReadRequest{FSName: "stria", SinceGen: 2},
		&ConfigReadReply{Gen: 5, Targets: []TargetEntry{{Kind: KindMDT, Index: 0, Name: "stria-MDT0000",
			UUID: "stria-MDT0000_UUID", Nodes: nodes}}, Params: []string{"a=b"}},
	}
}

func TestBodiesRoundTrip(t *testing.T) {
	for _, b := range sampleBodies() {
		enc := AppendBody(nil, b)
		got := reflect.New(reflect.TypeOf(b).Elem()).Interface().(Body)
		if err := DecodeBody(enc, got); err != nil {
			t.Errorf("%T: decode: %v", b, err)
			continue
		}
		if !reflect.DeepEqual(normalize(b), normalize(got)) {
			t.Errorf("%T: round trip\n got %+v\nwant %+v", b, got, b)
		}
		// Every strict prefix must fail to decode, never panic.
		for n := 0; n < len(enc); n++ {
			short := reflect.New(reflect.TypeOf(b).Elem()).Interface().(Body)
			if err := DecodeBody(enc[:n], short); err == nil && n < len(enc) {
				t.Errorf("%T: %d of %d bytes decoded without error", b, n, len(enc))
				break
			}
		}
	}
}

// normalize maps empty slices to nil so DeepEqual compares contents.
func normalize(b Body) Body {
	v := reflect.ValueOf(b).Elem()
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := 0; i < c.NumField(); i++ {
		f := c.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c.Addr().Interface().(Body)
}

func TestBodyValidation(t *testing.T) {
	bad := []struct {
		name string
		b    Body
		into Body
	}{
		{"empty name", &GetattrNameRequest{Parent: RootFID}, &GetattrNameRequest{}},
		{"long name", &GetattrNameRequest{Name: string(make([]byte, 256))}, &GetattrNameRequest{}},
		{"open of nothing", &OpenRequest{Flags: 1}, &OpenRequest{}},
		{"rename flags", &RenameRequest{SrcName: "a", DstName: "b", Flags: 8}, &RenameRequest{}},
		{"readpage count 0", &ReadpageRequest{}, &ReadpageRequest{}},
		{"io too big", &IORequest{Length: MaxIOSize + 1}, &IORequest{}},
		{"io overflow", &IORequest{Offset: ^uint64(0), Length: 2}, &IORequest{}},
		{"punch backwards", &PunchRequest{Start: 5, End: 4}, &PunchRequest{}},
		{"precreate 0", &PrecreateRequest{}, &PrecreateRequest{}},
		{"reg without nodes", &TargetRegRequest{Kind: KindOST}, &TargetRegRequest{}},
		{"reg bad kind", &TargetRegRequest{Kind: 7, Nodes: []ServiceNode{{NIDs: []lnet.NID{lnet.LoNID(1)}}}}, &TargetRegRequest{}},
	}
	for _, c := range bad {
		err := DecodeBody(AppendBody(nil, c.b), c.into)
		if !errors.Is(err, ErrBadBody) {
			t.Errorf("%s: err = %v, want ErrBadBody", c.name, err)
		}
	}
	if _, _, err := SplitReint([]byte{99, 0, 0, 0}); !errors.Is(err, ErrBadBody) {
		t.Errorf("unknown reint op: %v", err)
	}
	op, rest, err := SplitReint(AppendReint(nil, ReintRename, &RenameRequest{SrcName: "a", DstName: "b"}))
	if err != nil || op != ReintRename || len(rest) == 0 {
		t.Errorf("SplitReint = %v, %d bytes, %v", op, len(rest), err)
	}
}

// FuzzBodies feeds arbitrary bytes to every MDT, OST and MGS body decoder:
// none may panic, and whatever decodes must re-encode to the same bytes.
func FuzzBodies(f *testing.F) {
	samples := sampleBodies()
	for i, b := range samples {
		f.Add(uint8(i), AppendBody(nil, b))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := reflect.TypeOf(samples[int(which)%len(samples)]).Elem()
		b := reflect.New(typ).Interface().(Body)
		if err := DecodeBody(data, b); err != nil {
			return
		}
		again := reflect.New(typ).Interface().(Body)
		if err := DecodeBody(AppendBody(nil, b), again); err != nil {
			t.Fatalf("%v: re-decode of a decoded body failed: %v", typ, err)
		}
	})
}

// FuzzSplitReint checks the reint splitter.
func FuzzSplitReint(f *testing.F) {
	f.Add(AppendReint(nil, ReintOpen, &OpenRequest{Name: "x"}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		op, rest, err := SplitReint(data)
		if err == nil && (op < ReintSetattr || op > ReintSetxattr || len(rest) != len(data)-4) {
			t.Fatalf("SplitReint accepted op %d", op)
		}
	})
}
