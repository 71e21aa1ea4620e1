package wire

import (
	"reflect"
	"testing"
)

func TestOSTExtraRoundTrip(t *testing.T) {
	for _, in := range []Body{
		&LastIDRequest{MDTIndex: 3},
		&LastIDReply{LastID: IDIF(1, 77)},
		&OrphanRequest{MDTIndex: 1, LastUsed: 42},
		&OrphanReply{LastID: IDIF(2, 100), Destroyed: 58},
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
