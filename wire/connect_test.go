package wire

import (
	"errors"
	"testing"
)

func TestConnectRoundTrip(t *testing.T) {
	req := ConnectRequest{Target: "lustre-OST0001", ClientUUID: "c0ffee-uuid", Flags: ConnectFID | ConnectAT, Handle: 9, Incarnation: 3}
	var gotReq ConnectRequest
	if err := DecodeBody(AppendBody(nil, &req), &gotReq); err != nil || gotReq != req {
		t.Fatalf("%v %+v", err, gotReq)
	}
	rep := ConnectReply{Handle: 77, ConnCnt: 2, Flags: ConnectFID, Incarnation: 5, LastCommitted: 100, TargetUUID: "lustre-OST0001_UUID"}
	var gotRep ConnectReply
	if err := DecodeBody(AppendBody(nil, &rep), &gotRep); err != nil || gotRep != rep {
		t.Fatalf("%v %+v", err, gotRep)
	}
	var p PingRequest
	if err := DecodeBody(AppendBody(nil, &p), &p); err != nil {
		t.Fatal(err)
	}
	if err := DecodeBody([]byte{0}, &p); !errors.Is(err, ErrBadBody) {
		t.Fatalf("ping with a body: %v", err)
	}
}

func TestConnectRejects(t *testing.T) {
	var got ConnectRequest
	noUUID := ConnectRequest{Target: "t"}
	if err := DecodeBody(AppendBody(nil, &noUUID), &got); !errors.Is(err, ErrBadBody) {
		t.Fatalf("no uuid: %v", err)
	}
	long := ConnectRequest{Target: string(make([]byte, MaxNameLen+1)), ClientUUID: "u"}
	if err := DecodeBody(AppendBody(nil, &long), &got); !errors.Is(err, ErrBadBody) {
		t.Fatalf("long target: %v", err)
	}
}
