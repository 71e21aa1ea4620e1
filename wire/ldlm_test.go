package wire

import (
	"errors"
	"reflect"
	"testing"
)

func sampleLockDesc() LockDesc {
	return LockDesc{
		Res: ResIDOfFID(FID{Seq: 0x200000401, Oid: 7, Ver: 0}), Type: LockExtent, Mode: LockPW,
		Policy: Policy{Start: 4096, End: LockEOF, GID: 3, Bits: InodeLockUpdate, Owner: 0xabc, PID: 42},
	}
}

func TestLDLMRoundTrip(t *testing.T) {
	desc := sampleLockDesc()
	lvb := LVB{Size: 1 << 20, Blocks: 2048, MTime: 1700000000, ATime: -1, CTime: 5}
	for _, in := range []Body{
		&desc,
		&lvb,
		&Policy{Start: 1, End: 2},
		&CancelList{Handles: []LockHandle{1, 2, 3}},
		&LockRequest{Desc: desc, Flags: LockFlagBlockNoWait | LockFlagTestLock, Handle: 99,
			Cancels: CancelList{Handles: []LockHandle{7}}},
		&LockRequest{Desc: desc, Handle: 1},
		&LockReply{Desc: desc, Flags: LockFlagBlockGranted, Handle: 5, LVB: lvb},
		&LockCallback{Handle: 1, ServerHandle: 2, Desc: desc, Flags: LockFlagASTSent, LVB: lvb},
	} {
		out := reflect.New(reflect.TypeOf(in).Elem()).Interface().(Body)
		if err := DecodeBody(AppendBody(nil, in), out); err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%T: got %+v, want %+v", in, out, in)
		}
		if err := DecodeBody(AppendBody(nil, in)[1:], out); err == nil {
			t.Errorf("%T: a short body decoded", in)
		}
	}
}

// Unknown modes and types decode (the lock manager refuses them with
// EINVAL), and report themselves invalid.
func TestLDLMUnknownValues(t *testing.T) {
	d := sampleLockDesc()
	d.Mode, d.Type = 3, 99
	var out LockDesc
	if err := DecodeBody(AppendBody(nil, &d), &out); err != nil {
		t.Fatal(err)
	}
	if out.Mode.Valid() || out.Type.Valid() || out.Mode.String() != "mode(3)" || out.Type.String() != "type(99)" {
		t.Fatalf("%v %v valid", out.Mode, out.Type)
	}
	for _, m := range []LockMode{LockEX, LockPW, LockPR, LockCW, LockCR, LockNL, LockGroup} {
		if !m.Valid() {
			t.Errorf("%v invalid", m)
		}
	}
	for _, ty := range []LockType{LockPlain, LockExtent, LockFlock, LockIBits} {
		if !ty.Valid() {
			t.Errorf("%v invalid", ty)
		}
	}
	if LockMode(0).Valid() || LockType(9).Valid() || LockType(14).Valid() {
		t.Error("zero mode or out-of-range type valid")
	}
}

func TestCancelListLimits(t *testing.T) {
	var e Encoder
	e.U32(MaxCancels + 1)
	for i := 0; i <= MaxCancels; i++ {
		e.U64(uint64(i))
	}
	var c CancelList
	if err := DecodeBody(e.Bytes(), &c); !errors.Is(err, ErrBadBody) {
		t.Fatalf("too many handles: %v", err)
	}
	e = Encoder{}
	e.U32(1 << 30)
	if err := DecodeBody(e.Bytes(), &c); !errors.Is(err, ErrShort) {
		t.Fatalf("count beyond the input: %v", err)
	}
}

func TestLDLMStrings(t *testing.T) {
	r := ResIDOfFID(FID{Seq: 0x200000401, Oid: 1})
	if got := r.String(); got != "[0x200000401:0x1:0x0].0x0" {
		t.Errorf("ResID %s", got)
	}
	if r.FID() != (FID{Seq: 0x200000401, Oid: 1}) {
		t.Errorf("FID %v", r.FID())
	}
	if got := (LockFlagBlockGranted | LockFlagASTSent | 1<<40).String(); got != "block_granted|ast_sent|0x10000000000" {
		t.Errorf("flags %s", got)
	}
	if LockFlags(0).String() != "0" || !LockFlagBlockWait.Blocked() || LockFlagASTSent.Blocked() {
		t.Error("flags")
	}
	if LockPW.String() != "PW" || LockExtent.String() != "EXT" || LockIBits.String() != "IBT" {
		t.Error("names")
	}
}

func FuzzLockRequest(f *testing.F) {
	fuzzBody(f, &LockRequest{Desc: sampleLockDesc(), Flags: LockFlagTestLock, Handle: 3,
		Cancels: CancelList{Handles: []LockHandle{1, 2}}})
}

func FuzzLockReply(f *testing.F) {
	fuzzBody(f, &LockReply{Desc: sampleLockDesc(), Flags: LockFlagBlockGranted, Handle: 9, LVB: LVB{Size: 10}})
}

func FuzzLockCallback(f *testing.F) {
	fuzzBody(f, &LockCallback{Handle: 1, ServerHandle: 2, Desc: sampleLockDesc(), LVB: LVB{MTime: 3}})
}

func FuzzCancelList(f *testing.F) { fuzzBody(f, &CancelList{Handles: []LockHandle{4, 5, 6}}) }

func FuzzLVB(f *testing.F) { fuzzBody(f, &LVB{Size: 1, Blocks: 2, MTime: 3, ATime: 4, CTime: 5}) }
