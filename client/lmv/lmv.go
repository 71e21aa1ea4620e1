// Package lmv routes metadata operations over the MDTs (Lustre's lmv
// device): it holds one mdc.MDC per MDT and picks the one that owns a FID.
//
// Today a file system has one MDT and every FID routes to MDT0000. With
// DNE, the FID's sequence names its MDT through the FLD (the sequence
// controller on MDT0000 grants each MDT its ranges): Route will look the
// sequence up in a client-side FLD cache, filled by FLD_QUERY on a miss,
// and operations on a name will route by the parent directory's FID (and,
// in a striped directory, by the hash of the name over its stripes). The
// callers already route every call through Route or ByIndex, so that
// change stays inside this package.
package lmv

import (
	"fmt"
	"sort"
	"sync"
	"syscall"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/wire"
)

// LMV is the set of a mount's MDCs, by MDT index. Safe for concurrent use;
// MDCs are added as the configuration names them and never removed before
// Close.
type LMV struct {
	mu   sync.RWMutex // guards mdcs
	mdcs map[uint32]*mdc.MDC
}

// New returns an empty LMV.
func New() *LMV { return &LMV{mdcs: map[uint32]*mdc.MDC{}} }

// Add registers m under its index; false if that index already has one.
func (l *LMV) Add(m *mdc.MDC) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.mdcs[m.Index()]; ok {
		return false
	}
	l.mdcs[m.Index()] = m
	return true
}

// ByIndex returns the MDC of MDT index i.
func (l *LMV) ByIndex(i uint32) (*mdc.MDC, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	m, ok := l.mdcs[i]
	if !ok {
		return nil, fmt.Errorf("lmv: no MDT%04x (%w)", i, syscall.EIO)
	}
	return m, nil
}

// Route returns the MDC of the MDT that owns fid: MDT0000 for now (see
// the package comment).
func (l *LMV) Route(fid wire.FID) (*mdc.MDC, error) {
	return l.ByIndex(0)
}

// All returns every MDC, by index.
func (l *LMV) All() []*mdc.MDC {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*mdc.MDC, 0, len(l.mdcs))
	for _, m := range l.mdcs {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index() < out[j].Index() })
	return out
}
