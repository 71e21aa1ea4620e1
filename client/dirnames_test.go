package client

import (
	"testing"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

func TestDirNamesRecord(t *testing.T) {
	var d dirNames
	dir := wire.FID{Seq: 0x200000401, Oid: 1}
	lock := &ldlm.Lock{}

	d.mkdirStart()
	d.mkdirDone(dir)
	d.naming(dir, "a")
	if _, ok := d.absent(dir, "b"); ok {
		t.Fatal("a name answered absent without the directory's lock")
	}
	if !d.granted(dir, lock, 7) {
		t.Fatal("the lock of a recorded directory was not kept")
	}
	if d.granted(dir, &ldlm.Lock{}, 7) {
		t.Fatal("a second lock was kept")
	}
	if inc, ok := d.absent(dir, "b"); !ok || inc != 7 {
		t.Fatalf("absent(b) = %d %v, want 7 true", inc, ok)
	}
	if _, ok := d.absent(dir, "a"); ok {
		t.Fatal("a name this client made answered absent")
	}

	// A directory named by this client before its mkdir's reply came is
	// not recorded: the name may be missing from its record.
	other := wire.FID{Seq: 0x200000401, Oid: 2}
	d.mkdirStart()
	d.naming(other, "early")
	d.mkdirDone(other)
	if d.granted(other, &ldlm.Lock{}, 7) {
		t.Fatal("a directory named during its own mkdir was recorded")
	}
	if len(d.touched) != 0 {
		t.Fatalf("%d directories still noted with no mkdir in flight", len(d.touched))
	}
	// A failed mkdir records nothing.
	d.mkdirStart()
	d.mkdirDone(wire.FID{})
	if len(d.dirs) != 1 {
		t.Fatalf("%d directories recorded, want 1", len(d.dirs))
	}
}

func TestDirNamesBudget(t *testing.T) {
	var d dirNames
	dir := wire.FID{Seq: 0x200000401, Oid: 1}
	d.mkdirStart()
	d.mkdirDone(dir)
	// Room is made by forgetting the directories not under their lock.
	idle := wire.FID{Seq: 0x200000401, Oid: 2}
	d.mkdirStart()
	d.mkdirDone(idle)
	d.dirs[idle].names["x"] = struct{}{}
	d.total = dirNamesMax
	if !d.granted(dir, &ldlm.Lock{}, 1) {
		t.Fatal("lock not kept")
	}
	d.naming(dir, "last")
	if d.dirs[idle] != nil || d.dirs[dir] == nil {
		t.Fatal("room was not made by forgetting the idle directory")
	}
	d.total = dirNamesMax + 5
	d.naming(dir, "over")
	if d.dirs[dir] != nil {
		t.Fatal("a directory past the budget is still recorded")
	}
}
