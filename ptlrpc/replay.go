package ptlrpc

import (
	"context"

	"github.com/stria-fs/stria/wire"
)

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

// Release ends the keeping but not the replay (Lustre keeps an open
// request until its close commits): a request the server has not
// committed yet (its transno is above last_committed) joins the import's
// replay list, to be replayed with body (the message header, with the
// caller's credentials, stays) until last_committed passes its transno,
// like a Replayable request; a committed one, or one without a transno,
// is dropped as by Drop. An empty body keeps the body it has. mdc
// releases the open that created a file, at its close, with a body that
// recreates the file if a restarted server lost it. Releasing during a
// replay changes the body of the replays that have not sent it yet.
// Releasing twice, after Drop or after the import released it, does
// nothing.
func (k *Kept) Release(body []byte) {
	if k == nil {
		return
	}
	imp := k.imp
	imp.mu.Lock()
	defer imp.mu.Unlock()
	c := imp.kept[k.id]
	if c == nil {
		return
	}
	delete(imp.kept, k.id)
	if c.transno == 0 || c.transno <= imp.lastCommitted {
		imp.releaseLocked(c)
		return
	}
	switch {
	case len(body) == 0:
	case c.replaying:
		// The replay loop may be sending c: it puts the body in
		// (prepareReplay, doneReplaying).
		imp.released[c] = body
	default:
		c.waitFor(func() bool { return c.sending == 0 }) // a replay's send may not have completed
		c.setBody(body)
	}
	imp.addReplayLocked(c)
}

// setBody replaces the body c is sent with (its envelope stays). No send
// of c may be in flight.
func (c *call) setBody(body []byte) {
	c.send.b = append(c.send.b[:wire.MsgSize], body...)
}

// prepareReplay waits until no send of c is in flight (its sends' events
// came) and reports whether c is still to be replayed: false for a call
// dropped since the replay began (committed, or its Kept dropped). A body
// Release gave meanwhile goes in now.
func (c *call) prepareReplay() bool {
	c.waitFor(func() bool { return c.sending == 0 })
	c.imp.mu.Lock()
	defer c.imp.mu.Unlock()
	if b, ok := c.imp.released[c]; ok && !c.dropped {
		c.setBody(b)
		delete(c.imp.released, c)
	}
	return !c.dropped
}
