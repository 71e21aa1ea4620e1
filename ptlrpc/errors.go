package ptlrpc

import "errors"

// Sentinel errors of ptlrpc. Wrap them with %w; test with errors.Is. Errors
// a peer reported arrive as *wire.RemoteError instead (errors.Is against the
// syscall.Errno and wire.ErrRemote).
var (
	// ErrClosed: the import or service was closed.
	ErrClosed = errors.New("ptlrpc: closed")
	// ErrBadConfig: a ServiceConfig, TargetConfig or ImportConfig failed Validate.
	ErrBadConfig = errors.New("ptlrpc: bad configuration")
	// ErrBadRequest: a Req cannot be sent as given (both bulk directions,
	// a replayable request with bulk, a body over the size limit).
	ErrBadRequest = errors.New("ptlrpc: bad request")
	// ErrBulkTooBig: a bulk transfer larger than the buffer the other side
	// posted; nothing was written.
	ErrBulkTooBig = errors.New("ptlrpc: bulk larger than the posted buffer")
	// ErrNoBulk: the request has no bulk buffer in that direction.
	ErrNoBulk = errors.New("ptlrpc: request has no bulk buffer")
	// ErrBulk: a bulk transfer failed (network error or no answer).
	ErrBulk = errors.New("ptlrpc: bulk transfer failed")
	// ErrReplyTooBig: the reply did not fit the reply buffer (Req.ReplySize).
	ErrReplyTooBig = errors.New("ptlrpc: reply larger than the reply buffer")
	// ErrBadReply: a reply failed to decode.
	ErrBadReply = errors.New("ptlrpc: malformed reply")
	// ErrEvicted: the server forgot this client (its export is gone) while
	// the request was outstanding; it may or may not have been executed.
	ErrEvicted = errors.New("ptlrpc: evicted by the server")
	// ErrNoTarget: a connect named a target this service does not serve.
	ErrNoTarget = errors.New("ptlrpc: no such target")
	// ErrDuplicateTarget: a target of that name is already served.
	ErrDuplicateTarget = errors.New("ptlrpc: target already registered")
)
