package wire

import "errors"

// Sentinel errors of the wire package.
var (
	ErrBadFID = errors.New("wire: bad FID")
)
