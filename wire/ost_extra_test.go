package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestOSTExtraRoundTrip(t *testing.T) {
	for _, in := range []Body{
		&LastIDRequest{MDTIndex: 3},
		&LastIDReply{LastID: IDIF(1, 77)},
		&OrphanRequest{MDTIndex: 1, LastUsed: 42},
		&OrphanReply{LastID: IDIF(2, 100), Destroyed: 58},
		&FallocateRequest{FID: IDIF(1, 7), Offset: 1 << 20, Length: 4096, Mode: FallocKeepSize},
		&IORequest{FID: IDIF(1, 7), Offset: 4096, Length: 100, Checksum: 5, Mtime: 1795253107239084512},
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

func FuzzLastIDRequest(f *testing.F) { fuzzBody(f, &LastIDRequest{MDTIndex: 1}) }
func FuzzLastIDReply(f *testing.F)   { fuzzBody(f, &LastIDReply{LastID: IDIF(0, 9)}) }
func FuzzOrphanRequest(f *testing.F) { fuzzBody(f, &OrphanRequest{MDTIndex: 1, LastUsed: 5}) }
func FuzzOrphanReply(f *testing.F)   { fuzzBody(f, &OrphanReply{LastID: IDIF(3, 8), Destroyed: 2}) }
func FuzzFallocateRequest(f *testing.F) {
	fuzzBody(f, &FallocateRequest{FID: IDIF(1, 7), Offset: 1024, Length: 4096},
		&FallocateRequest{FID: IDIF(2, 9), Offset: 50, Length: 52, Mode: FallocKeepSize},
		&FallocateRequest{FID: IDIF(2, 9), Length: 1 << 40, Mode: FallocPunchHole | FallocKeepSize})
}

func TestFallocateRequestRefused(t *testing.T) {
	b := AppendBody(nil, &FallocateRequest{FID: IDIF(1, 7), Offset: ^uint64(0), Length: 2})
	if err := DecodeBody(b, &FallocateRequest{}); !errors.Is(err, ErrBadBody) {
		t.Errorf("a fallocate range that overflows: err = %v, want ErrBadBody", err)
	}
}
