package daemon

import "errors"

// Sentinel errors of the daemon helpers; wrapped with %w and the value they
// concern.
var (
	// ErrBadNodes: a --mgsnode or --servicenode value that is not a list of
	// NIDs.
	ErrBadNodes = errors.New("bad NID list")
	// ErrBadSize: a size that is not a number with an optional K, M, G, T
	// suffix.
	ErrBadSize = errors.New("bad size")
	// ErrBadIndex: a target index that is not a number in range.
	ErrBadIndex = errors.New("bad index")
	// ErrBadLog: an unknown log level or format.
	ErrBadLog = errors.New("bad log setting")
)
