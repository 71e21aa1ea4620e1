package lnet

import "context"

// LNet is one LNet instance: its local NIs, peers, portals and MDs.
//
// TODO(core): the implementation. The signatures below are the contract the
// other packages (ptlrpc, LNDs, lctl) are written against.
type LNet struct{}

// MDHandle names an attached or bound MD.
type MDHandle struct{}

// New starts an LNet instance: one NI per configured network, each through the
// LND of its type.
func New(ctx context.Context, cfg Config) (*LNet, error) { return nil, ErrNotSupported }

// NIDs returns the local NIDs, in the order of the configured networks.
func (ln *LNet) NIDs() []NID { return nil }

// PID returns this instance's process id.
func (ln *LNet) PID() uint32 { return PIDLustre }

// NIs returns a snapshot of every local NI.
func (ln *LNet) NIs() []NIStatus { return nil }

// PickNID returns the first of candidates that a local NI can reach (same
// network), and the local NID that would be used.
func (ln *LNet) PickNID(candidates []NID) (peer, local NID, ok bool) { return NID{}, NID{}, false }

// Attach adds a match entry with md to the end (or head) of portal's list.
func (ln *LNet) Attach(portal uint32, ms MatchSpec, md MD, pos Position) (*MDHandle, error) {
	return nil, ErrNotSupported
}

// Bind makes md usable as the source of a Put or the sink of a Get, without a
// match entry.
func (ln *LNet) Bind(md MD) (*MDHandle, error) { return nil, ErrNotSupported }

// Unlink removes the MD; its handler gets EventUnlink once every operation
// in progress on it has finished.
func (h *MDHandle) Unlink() {}

// Put sends md's buffer to a.Target's portal. md's handler hears EventSend,
// then EventAck if a.Ack was set.
func (ln *LNet) Put(md *MDHandle, a PutArgs) error { return ErrNotSupported }

// Get asks a.Target to send data from a matching MD into md's buffer. md's
// handler hears EventSend, then EventReply.
func (ln *LNet) Get(md *MDHandle, a GetArgs) error { return ErrNotSupported }

// Ping asks target for its NIDs (a GET on the reserved portal).
func (ln *LNet) Ping(ctx context.Context, target NID) ([]ProcessID, error) {
	return nil, ErrNotSupported
}

// Close stops every NI and waits for the goroutines LNet started; MDs still
// attached get EventUnlink.
func (ln *LNet) Close() error { return nil }
