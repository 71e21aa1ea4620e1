package mdc

import (
	"context"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Sync makes every change the MDT answered to this client durable
// (MDS_SYNC, Lustre's md_fsync): the MDT answers creates before it
// commits them. It costs nothing when all is committed already.
func (m *MDC) Sync(ctx context.Context, fid wire.FID) error {
	if !m.imp.Uncommitted() {
		return nil
	}
	return m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSSync, Encode: &wire.FIDRequest{FID: fid}}, "sync "+fid.String(), nil)
}
