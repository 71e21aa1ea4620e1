package mgs

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

func sampleTarget() Target {
	return Target{
		Kind: wire.KindOST, Index: 10, UUID: "testfs-OST000a_UUID",
		Nodes: []wire.ServiceNode{
			{NIDs: []lnet.NID{lnet.MustParseNID("10.0.0.1@tcp"), lnet.MustParseNID("192.168.1.1@o2ib")}},
			{NIDs: []lnet.NID{lnet.MustParseNID("10.0.0.2@tcp")}},
		},
		Params: []string{"sys.timeout=40"}, From: lnet.MustParseNID("10.0.0.1@tcp"),
		Registered: time.Unix(1700000000, 5), LastSeen: time.Unix(1700000100, 7), Gen: 42,
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	tg := sampleTarget()
	got, err := decodeTarget(appendTarget(nil, &tg))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tg) {
		t.Errorf("target: got %+v\nwant %+v", got, tg)
	}
	p := Param{Seq: 9, Value: "64"}
	if gp, err := decodeParam(appendParam(nil, p)); err != nil || gp != p {
		t.Errorf("param: got %+v %v", gp, err)
	}
	k, i, err := parseTargetKey(targetKey(wire.KindMDT, 4095))
	if err != nil || k != wire.KindMDT || i != 4095 {
		t.Errorf("target key: %v %d %v", k, i, err)
	}
}

func TestRecordsRejectCorruption(t *testing.T) {
	tg := sampleTarget()
	good := appendTarget(nil, &tg)
	bad := map[string][]byte{
		"empty":         nil,
		"format":        append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte(nil), good...), 0),
		"no nodes":      appendTarget(nil, &Target{Kind: wire.KindMDT, UUID: "u"}),
		"kind":          appendTarget(nil, &Target{Kind: 7, UUID: "u", Nodes: tg.Nodes}),
		"no uuid":       appendTarget(nil, &Target{Kind: wire.KindMDT, Nodes: tg.Nodes}),
		"zero NID":      appendTarget(nil, &Target{Kind: wire.KindMDT, UUID: "u", Nodes: []wire.ServiceNode{{NIDs: []lnet.NID{{}}}}}),
		"too many node": appendTarget(nil, &Target{Kind: wire.KindMDT, UUID: "u", Nodes: make([]wire.ServiceNode, wire.MaxServiceNodes+1)}),
	}
	for name, b := range bad {
		if _, err := decodeTarget(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("target %s: %v, want ErrCorrupt", name, err)
		}
	}
	for name, b := range map[string][]byte{"empty": nil, "format": {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "short": {1, 0}} {
		if _, err := decodeParam(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("param %s: %v, want ErrCorrupt", name, err)
		}
	}
	for _, k := range [][]byte{nil, {1, 0, 0, 0}, {3, 0, 0, 0, 0}} {
		if _, _, err := parseTargetKey(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("target key %x: %v", k, err)
		}
	}
}

// FuzzTargetRecord: no input makes the decoder panic, and whatever decodes
// survives a round trip.
func FuzzTargetRecord(f *testing.F) {
	tg := sampleTarget()
	f.Add(appendTarget(nil, &tg))
	f.Add(appendTarget(nil, &Target{Kind: wire.KindMDT, UUID: "u", Nodes: tg.Nodes[:1]}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := decodeTarget(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := decodeTarget(appendTarget(nil, &tg))
		if err != nil || !reflect.DeepEqual(again, tg) {
			t.Fatalf("round trip: %+v → %+v, %v", tg, again, err)
		}
	})
}

// FuzzParamRecord: as FuzzTargetRecord, for parameter records.
func FuzzParamRecord(f *testing.F) {
	f.Add(appendParam(nil, Param{Seq: 3, Value: "x=y"}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeParam(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if string(appendParam(nil, p)) != string(b) {
			t.Fatalf("param %+v re-encodes differently", p)
		}
	})
}

func TestNames(t *testing.T) {
	if n := TargetName("testfs", wire.KindOST, 10); n != "testfs-OST000a" {
		t.Errorf("TargetName = %q", n)
	}
	for name, ok := range map[string]bool{
		"testfs-OST000a": true, "a-b-MDT0000": true, "testfs-OST000A": false, "testfs-XYZ0000": false,
		"-OST0000": false, "testfs-OST00000": false, "toolongfs-MDT0000": false, "testfs-OST00g0": false,
	} {
		if _, _, _, got := ParseTargetName(name); got != ok {
			t.Errorf("ParseTargetName(%q) ok = %v, want %v", name, got, ok)
		}
	}
	for fs, ok := range map[string]bool{"a": true, "lustre_1": true, "a-b": true, "": false, "123456789": false, "a b": false, "é": false} {
		if err := ValidFSName(fs); (err == nil) != ok {
			t.Errorf("ValidFSName(%q) = %v", fs, err)
		}
	}
}
