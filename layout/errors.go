package layout

import "errors"

// Sentinel errors of the layout package. Callers test them with errors.Is;
// the messages that wrap them say which component and which value.
var (
	// Validation of a layout or a template.
	ErrEmpty        = errors.New("layout: no components")
	ErrPlain        = errors.New("layout: invalid plain layout")
	ErrStripeSize   = errors.New("layout: invalid stripe size")
	ErrStripeCount  = errors.New("layout: invalid stripe count")
	ErrStripeOffset = errors.New("layout: invalid stripe offset")
	ErrPattern      = errors.New("layout: invalid pattern")
	ErrPool         = errors.New("layout: invalid pool name")
	ErrExtent       = errors.New("layout: invalid component extent")
	ErrExtentAlign  = errors.New("layout: component end not aligned")
	ErrComponentID  = errors.New("layout: invalid component id")
	ErrMirror       = errors.New("layout: invalid mirror")
	ErrFlags        = errors.New("layout: invalid component flags")
	ErrObjects      = errors.New("layout: objects do not match the stripe")
	ErrState        = errors.New("layout: invalid FLR state")
	ErrAllStale     = errors.New("layout: no in-sync mirror")
	ErrTooManyOSTs  = errors.New("layout: stripe count exceeds the OST count")

	// Encoding.
	ErrCorrupt = errors.New("layout: corrupt encoding")
	ErrVersion = errors.New("layout: unsupported encoding version")
	ErrTooBig  = errors.New("layout: too large to encode")

	// Stripe math and I/O mapping.
	ErrRange        = errors.New("layout: bad file range")
	ErrBeyondLayout = errors.New("layout: range not covered by the layout")
	ErrNoMirror     = errors.New("layout: no such mirror")
	ErrReleased     = errors.New("layout: component data is released")

	// FLR operations.
	ErrNotMirrored    = errors.New("layout: file is not mirrored")
	ErrNoPrimary      = errors.New("layout: no mirror can take writes")
	ErrNotFound       = errors.New("layout: no such component")
	ErrInstantiated   = errors.New("layout: component already instantiated")
	ErrNotInstantiate = errors.New("layout: component cannot be instantiated")

	// Parsing of setstripe arguments.
	ErrSyntax = errors.New("layout: syntax error")
)
