package ptlrpc

import "context"

// Kept is a request kept for replay beyond its commit, until its caller
// drops it (Lustre's rq_replay, which mdc sets on opens: an open must be
// replayed after a server restart for as long as the file stays open,
// committed or not, or the new server instance forgets the open handle
// and destroys an open-unlinked file). A Kept is safe for concurrent use;
// its methods on a nil Kept do nothing.
type Kept struct {
	imp *Import
	id  uint64 // key in Import.kept; a dropped or released id is never reused
}

// CallKeep is Call for a request to keep for replay until Kept.Drop: the
// request (Replayable whether or not req says so, so without bulk) is
// replayed after every server restart, in order with the other replays
// (by its transno, or when the reply gave it none, after what the server
// had committed then), whatever last_committed says, with the body
// req.ReplayBody gives (Lustre's mdc_replay_open: an open is replayed as
// an open of the FID its reply gave, with the server's handle). The Kept
// is nil when
// Call would not have kept a Replayable request: on an error, or a reply
// of a connection the import no longer has. An eviction or Close of the
// import releases every kept request.
func (imp *Import) CallKeep(ctx context.Context, req *Req) (*Reply, *Kept, error) {
	return imp.call(ctx, req, true)
}

// Drop ends the keeping: the request is not replayed any more (an open,
// once its file is closed). Dropping twice, or after the import released
// it, does nothing.
func (k *Kept) Drop() {
	if k == nil {
		return
	}
	k.imp.mu.Lock()
	defer k.imp.mu.Unlock()
	if c := k.imp.kept[k.id]; c != nil {
		delete(k.imp.kept, k.id)
		k.imp.releaseLocked(c)
	}
}

// prepareReplay waits until no send of c is in flight (its sends' events
// came) and reports whether c is still to be replayed: false for a call
// dropped since the replay began (committed, or its Kept dropped).
func (c *call) prepareReplay() bool {
	c.waitFor(func() bool { return c.sending == 0 })
	c.imp.mu.Lock()
	defer c.imp.mu.Unlock()
	return !c.dropped
}
