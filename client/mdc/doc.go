// Package mdc is the client side of one MDT (Lustre's mdc device): one
// typed method per metadata RPC over one ptlrpc import on the MDS request
// portal.
//
// Lookups, getattr, readdir (MDS_READPAGE, with attributes for
// readdirplus), statfs, xattr reads and fid2path (MDS_GET_INFO) are plain
// calls; every modification goes as MDS_REINT (create, open, setattr,
// link, unlink, rename, setxattr) or MDS_CLOSE, Replayable: ptlrpc keeps
// it until the MDT's last_committed passes its transno and replays it in
// order if the MDT restarts before. An open is kept longer, until its
// CloseFile (ptlrpc.Kept, Lustre's mdc_replay_open): after every MDT
// restart it is replayed as an open of the FID its reply gave — never
// creating, excluding or truncating again, with the same access mode —
// carrying the reply's handle (OpenRequest.Handle), which the new MDT
// instance registers again, so that the file stays open (an unlinked one
// is not destroyed) and its close finds the handle. An open that created
// its file (the reply says Created) is replayed instead as a create
// replay: an O_CREAT open of the same name asking for the FID and the
// layout (with the objects) the reply gave, with the handle, so that an
// MDT that lost the create in a crash recreates the file as this client
// knows it (and may have written its objects), and one that has it
// reopens it. Its close releases the request (Kept.Release) with the
// handle 0: it is replayed, recreating the file without opening it,
// until the MDT commits the create. The caller's
// credentials travel in the context (ptlrpc.WithCreds) and the MDT checks
// permissions against them. Errors the MDT returned arrive wrapped and
// match their errno (errors.Is(err, syscall.ENOENT)).
//
// Replies alias pooled buffers: everything returned (layouts, xattr
// values, names) is copied out before the reply is released. Each call is
// counted by opcode with its latency (Stats, `lctl get_param mdc.*.stats`).
// With Config.Callbacks the MDC has a lock namespace (an ldlm.Client over
// its import, "FSNAME-MDT0000-mdc-<client uuid>", locks.go): Locks gives it
// to the client layer, Flock runs flock(2)/fcntl(2) requests on a file's
// FLOCK resource. The MDC starts no goroutine of its own (the lock
// namespace owns its workers); Close cancels its locks, then stops the
// import's.
package mdc
