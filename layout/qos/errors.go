package qos

import "errors"

// Sentinel errors of the qos package.
var (
	// ErrNoOSTs: no OST is available (in the pool) for new objects.
	ErrNoOSTs = errors.New("qos: no OST available")
	// ErrNotEnough: fewer OSTs are available than the minimum asked for.
	ErrNotEnough = errors.New("qos: not enough OSTs available")
	// ErrBadOffset: the starting OST does not exist or is not in the pool.
	ErrBadOffset = errors.New("qos: bad starting OST")
	// ErrBadCount: a stripe count of 0 or below -1.
	ErrBadCount = errors.New("qos: bad stripe count")
	// ErrDuplicate: the same OST index appears twice in the input.
	ErrDuplicate = errors.New("qos: OST listed twice")
)
