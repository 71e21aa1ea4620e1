package client

import (
	"sync"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// Names of the directories this client made (mdt/dirnames.go). From its
// mkdir on, the client records every name it asks the MDT to make in such
// a directory (mdc.Config.Naming: before the request goes, so a request
// whose answer is lost is recorded too). If the MDT then answers a lookup
// there with the directory's DirNames lock, it attests that every name of
// the directory was made by this client: the recorded names are a
// superset of the real ones, and while the lock is held, a lookup of any
// other name is answered ENOENT here, without an RPC. The kernel looks up
// every name before it creates it, so in a directory this client fills,
// a create costs one RPC instead of two.
//
// The record must cover every name made since the mkdir. A thread of
// this client may learn the new directory (a lookup of its name) and
// make names in it before the mkdir's own reply comes back; so while a
// mkdir is in flight, the directories named that are not recorded are
// noted, and a mkdir whose directory was among them records nothing.

// dirNamesMax bounds the names recorded, over all directories. Past it
// the directories not under their lock are forgotten, and then the one
// being named (its lookups go to the MDT again).
const dirNamesMax = 1 << 20

type madeDir struct {
	names map[string]struct{}
	lock  *ldlm.Lock // the DirNames lock, once granted
	inc   uint64     // the MDT instance that granted it
}

// dirNames is what the client knows of the directories it made. mu is a
// leaf.
type dirNames struct {
	mu      sync.Mutex
	dirs    map[wire.FID]*madeDir
	total   int                   // names recorded in dirs
	mkdirs  int                   // mkdirs in flight
	touched map[wire.FID]struct{} // directories named, unrecorded, while a mkdir was in flight
}

// mkdirStart is called before a mkdir is sent; mkdirDone after it, with
// the new directory (zero if none was made).
func (d *dirNames) mkdirStart() {
	d.mu.Lock()
	d.mkdirs++
	d.mu.Unlock()
}

func (d *dirNames) mkdirDone(dir wire.FID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, named := d.touched[dir]
	if d.mkdirs--; d.mkdirs == 0 {
		d.touched = nil
	}
	if dir.IsZero() || named || !d.roomLocked() {
		return
	}
	if d.dirs == nil {
		d.dirs = map[wire.FID]*madeDir{}
	}
	d.dirs[dir] = &madeDir{names: map[string]struct{}{}}
}

// naming records that parent may get name (mdc.Config.Naming).
func (d *dirNames) naming(parent wire.FID, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	md := d.dirs[parent]
	if md == nil {
		if d.mkdirs > 0 {
			if d.touched == nil {
				d.touched = map[wire.FID]struct{}{}
			}
			d.touched[parent] = struct{}{}
		}
		return
	}
	if _, ok := md.names[name]; ok {
		return
	}
	if !d.roomLocked() {
		d.forgetLocked(parent)
		return
	}
	md.names[name] = struct{}{}
	d.total++
}

func (d *dirNames) forgetLocked(dir wire.FID) {
	if md := d.dirs[dir]; md != nil {
		d.total -= len(md.names)
		delete(d.dirs, dir)
	}
}

// granted takes l, the DirNames lock of dir granted by MDT instance inc,
// and reports whether it is to be kept: only for a directory whose names
// are recorded, and not yet under a lock.
func (d *dirNames) granted(dir wire.FID, l *ldlm.Lock, inc uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	md := d.dirs[dir]
	if md == nil || md.lock != nil || inc == 0 {
		return false
	}
	md.lock, md.inc = l, inc
	return true
}

// dropped is called when l, a DirNames lock, goes. Its directory may get
// names this client did not make, and lookups there go to the MDT again.
// The record stays: if the lock went for its age, or for room in the
// LRU, the MDT grants it again (attesting that no other client made a
// name meanwhile); if another client's name called it back, the MDT
// grants it no more, and the record goes when room is needed.
func (d *dirNames) dropped(l *ldlm.Lock) {
	dir := l.Desc().Res.FID()
	d.mu.Lock()
	defer d.mu.Unlock()
	if md := d.dirs[dir]; md != nil && md.lock == l {
		md.lock, md.inc = nil, 0
	}
}

// roomLocked makes room for one more name, forgetting directories not
// under their lock if need be; it reports whether there is room.
func (d *dirNames) roomLocked() bool {
	if d.total < dirNamesMax {
		return true
	}
	for dir, md := range d.dirs {
		if md.lock == nil {
			d.forgetLocked(dir)
		}
	}
	return d.total < dirNamesMax
}

// locked reports whether dir's names are known under its DirNames lock.
func (d *dirNames) locked(dir wire.FID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	md := d.dirs[dir]
	return md != nil && md.lock != nil
}

// absent reports whether dir has no name name as far as the client knows
// under dir's DirNames lock, granted by MDT instance inc (which the
// caller checks is the one it talks to).
func (d *dirNames) absent(dir wire.FID, name string) (inc uint64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	md := d.dirs[dir]
	if md == nil || md.lock == nil {
		return 0, false
	}
	_, made := md.names[name]
	return md.inc, !made
}
