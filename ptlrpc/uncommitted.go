package ptlrpc

// Uncommitted reports whether a request the server answered is not yet
// committed: its transno is above the last_committed the server reported.
// A client's fsync asks the server to commit then (MDS_SYNC), as the
// server answers changes before it commits them.
func (imp *Import) Uncommitted() bool {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if n := len(imp.replay); n > 0 && imp.replay[n-1].transno > imp.lastCommitted {
		return true
	}
	for _, c := range imp.kept {
		if c.transno > imp.lastCommitted {
			return true
		}
	}
	return false
}
