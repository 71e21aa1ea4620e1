package lov

import "errors"

// Sentinel errors of lov.
var (
	// ErrNeedIntent: the write falls in a part of the layout that is not
	// instantiated yet (a later PFL component), or in a mirrored file that
	// is not in write-pending state; the MDT must change the layout first.
	// It also matches syscall.EOPNOTSUPP.
	ErrNeedIntent = errors.New("lov: layout must be instantiated first")
	// ErrNoLayout: the file has no layout to do I/O over. It also matches
	// syscall.EIO.
	ErrNoLayout = errors.New("lov: file has no layout")
	// ErrDiscarded: cached writes were dropped unwritten because the lock
	// they were cached under was lost (the client was evicted). Readers of
	// the cache's errors see it wrapping syscall.EIO.
	ErrDiscarded = errors.New("lov: cached writes discarded: the client lost its lock")
	// ErrClosed: the cache is closed.
	ErrClosed = errors.New("lov: cache closed")
)
