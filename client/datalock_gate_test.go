package client

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

// An invalidation of a file waits for the GetAttrs of it being answered,
// and for attrSettle after the last.
func TestAttrGate(t *testing.T) {
	fs := &FS{ctx: context.Background()}
	fid := wire.FID{Seq: 0x200000401, Oid: 7}
	other := wire.FID{Seq: 0x200000401, Oid: 8}
	fs.attrGate(fid, time.Minute) // nothing asked: no wait

	var answered atomic.Bool
	done := fs.answeringAttr(fid)
	go func() {
		time.Sleep(5 * time.Millisecond)
		answered.Store(true)
		done()
	}()
	fs.attrGate(other, time.Minute) // another file: no wait
	if answered.Load() {
		t.Log("the GetAttr was answered before the other file's gate returned (slow machine)")
	}
	fs.attrGate(fid, time.Minute)
	if !answered.Load() {
		t.Fatal("the gate opened while a GetAttr of the file was being answered")
	}
	fs.data.mu.Lock()
	left := len(fs.data.asking) + len(fs.data.answered)
	fs.data.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d entries left after the gate", left)
	}
}
