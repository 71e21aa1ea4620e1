package mdc

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// decodeOpen decodes a REINT_OPEN body.
func decodeOpen(t *testing.T, b []byte) *wire.OpenRequest {
	t.Helper()
	if b == nil {
		t.Fatal("no replay body")
	}
	op, body, err := wire.SplitReint(b)
	if err != nil || op != wire.ReintOpen {
		t.Fatalf("replay body: op %v, %v", op, err)
	}
	var r wire.OpenRequest
	if err := wire.DecodeBody(body, &r); err != nil {
		t.Fatalf("replay body: %v", err)
	}
	return &r
}

// An open that created its file is replayed as a create of the same name
// with the reply's FID, layout and handle; any other open as a reopen of
// the FID with the handle. Neither excludes or truncates again.
func TestReplayOpenBody(t *testing.T) {
	parent := wire.FID{Seq: 0x200000401, Oid: 7}
	fid := wire.FID{Seq: 0x200000402, Oid: 9}
	blob := []byte("the instantiated layout, with objects")
	req := &wire.OpenRequest{Parent: parent, Name: "f", Flags: uint32(syscall.O_CREAT | syscall.O_EXCL | syscall.O_TRUNC | syscall.O_RDWR),
		Mode: 0o640, Layout: []byte("template")}
	reply := func(created bool) *ptlrpc.Reply {
		return &ptlrpc.Reply{Body: wire.AppendBody(nil, &wire.InodeReply{FID: fid, Layout: blob, Handle: 0x77, Created: created})}
	}

	got := decodeOpen(t, replayOpenBody(req, reply(true)))
	want := &wire.OpenRequest{Parent: parent, Name: "f", FID: fid, Flags: uint32(syscall.O_CREAT | syscall.O_RDWR),
		Mode: 0o640, Layout: blob, Handle: 0x77}
	if got.Parent != want.Parent || got.Name != want.Name || got.FID != want.FID || got.Flags != want.Flags ||
		got.Mode != want.Mode || !bytes.Equal(got.Layout, want.Layout) || got.Handle != want.Handle || got.Lock != 0 {
		t.Fatalf("create replay %+v, want %+v", got, want)
	}
	// After the close: the same, opening nothing.
	var r wire.InodeReply
	if err := reply(true).Decode(&r); err != nil {
		t.Fatal(err)
	}
	closed := decodeOpen(t, wire.AppendReint(nil, wire.ReintOpen, createReplay(req, &r, 0)))
	if closed.Handle != 0 || closed.FID != fid || closed.Name != "f" || !bytes.Equal(closed.Layout, blob) ||
		closed.Flags != want.Flags {
		t.Fatalf("create replay after close %+v", closed)
	}

	got = decodeOpen(t, replayOpenBody(req, reply(false)))
	if got.Parent != parent || got.Name != "" || got.FID != fid || got.Flags != uint32(syscall.O_RDWR) ||
		len(got.Layout) != 0 || got.Handle != 0x77 {
		t.Fatalf("reopen %+v", got)
	}
	if b := replayOpenBody(req, &ptlrpc.Reply{Body: []byte{1}}); b != nil {
		t.Fatalf("replay body of a bad reply: %q", b)
	}
}
