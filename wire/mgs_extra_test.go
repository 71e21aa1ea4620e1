package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestSetParamRoundTrip(t *testing.T) {
	for _, in := range []Body{
		&SetParamRequest{FSName: "testfs", Param: "osc.*.max_dirty_mb=64"},
		&SetParamRequest{Param: "sys.timeout", Delete: true},
		&SetParamReply{Gen: 1 << 40},
	} {
		out := reflect.New(reflect.TypeOf(in).Elem()).Interface().(Body)
		if err := DecodeBody(AppendBody(nil, in), out); err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%T: got %+v, want %+v", in, out, in)
		}
	}
}

func TestSetParamRejects(t *testing.T) {
	var e Encoder
	e.String("testfs")
	e.String("")
	e.Bool(false)
	if err := DecodeBody(e.Bytes(), &SetParamRequest{}); !errors.Is(err, ErrBadBody) {
		t.Errorf("empty parameter: %v, want ErrBadBody", err)
	}
	e = Encoder{}
	e.String("testfs")
	e.String(string(make([]byte, MaxParamLen+1)))
	e.Bool(false)
	if err := DecodeBody(e.Bytes(), &SetParamRequest{}); !errors.Is(err, ErrBadBody) {
		t.Errorf("long parameter: %v, want ErrBadBody", err)
	}
	e = Encoder{}
	e.String("")
	e.String("a=b")
	e.U8(2)
	if err := DecodeBody(e.Bytes(), &SetParamRequest{}); !errors.Is(err, ErrBadBody) {
		t.Errorf("bool byte 2: %v, want ErrBadBody", err)
	}
}

// FuzzSetParam checks the SET_INFO body decoders: no input panics, and
// whatever decodes re-encodes to the same bytes.
func FuzzSetParam(f *testing.F) {
	f.Add(false, AppendBody(nil, &SetParamRequest{FSName: "testfs", Param: "a.b=c", Delete: true}))
	f.Add(false, AppendBody(nil, &SetParamRequest{Param: "x=1"}))
	f.Add(true, AppendBody(nil, &SetParamReply{Gen: 7}))
	f.Add(false, []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, reply bool, data []byte) {
		var b Body = &SetParamRequest{}
		if reply {
			b = &SetParamReply{}
		}
		if err := DecodeBody(data, b); err != nil {
			return
		}
		if got := AppendBody(nil, b); string(got) != string(data) {
			t.Fatalf("%T re-encodes differently", b)
		}
	})
}
