package mdt

import (
	"sync"

	"github.com/stria-fs/stria/wire"
)

// freshFiles tracks the regular files an open(O_CREAT) made, from the
// create until its reply: whether another open for writing came
// in that window. The creator's intent lock then carries the OPEN bit
// only if none did: with it the client knows the file's size (its objects
// are as the MDT created them, empty) for as long as it holds the lock,
// because every later open for writing of an existing file takes EX on
// the OPEN bit first (open.go), calling that lock back, and a truncate or
// a layout change takes UPDATE. The creator's own writes it knows itself.
//
// An entry is made under the store's apply token when the create
// ran, before any open of the new file runs (mdd.CreateArgs.OnCreated), marked
// by an open for writing before that open takes its EX lock, and taken
// by the creating open after its intent lock was granted: whichever order
// the two opens run in, the creator's lock either never gets the OPEN bit
// or is called back. mu is a leaf.
type freshFiles struct {
	mu sync.Mutex
	m  map[wire.FID]bool // true: opened for writing by another open
}

func (f *freshFiles) created(fid wire.FID) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[wire.FID]bool{}
	}
	f.m[fid] = false
	f.mu.Unlock()
}

// openedForWrite notes an open for writing of fid.
func (f *freshFiles) openedForWrite(fid wire.FID) {
	f.mu.Lock()
	if _, ok := f.m[fid]; ok {
		f.m[fid] = true
	}
	f.mu.Unlock()
}

// take forgets fid and reports whether no other open for writing came
// since its create.
func (f *freshFiles) take(fid wire.FID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	spoiled, ok := f.m[fid]
	delete(f.m, fid)
	return ok && !spoiled
}
