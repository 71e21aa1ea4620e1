package lolnd

import "errors"

// Sentinel errors of lolnd. Wrap them with %w; test with errors.Is.
var (
	// ErrInUse says an lo number is already taken on the fabric.
	ErrInUse = errors.New("lolnd: lo number already in use")
)
