package obd

import "errors"

// Sentinel errors of the obd package.
var (
	ErrNoParam    = errors.New("obd: no such parameter")
	ErrReadOnly   = errors.New("obd: parameter is read-only")
	ErrBadValue   = errors.New("obd: invalid parameter value")
	ErrBadPattern = errors.New("obd: bad parameter pattern")
	ErrNoCommand  = errors.New("obd: unknown control command")
	ErrNoDaemon   = errors.New("obd: no Stria process is running on this node")
	ErrControl    = errors.New("obd: control request failed")
	ErrNoDevice   = errors.New("obd: no such device")
	ErrNoRecovery = errors.New("obd: device has no recovery to abort")
	ErrNoReadonly = errors.New("obd: device cannot be made read-only")
)
