package main

import (
	"context"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/client/fusefs"
	"github.com/stria-fs/stria/wire"
)

// backend is *client.FS as a fusefs.Backend: client.File and fusefs.File
// have the same methods but are distinct types, so Create and Open are
// restated with fusefs.File results.
type backend struct{ *client.FS }

var _ fusefs.Backend = backend{}

func (b backend) Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (fusefs.File, wire.FID, wire.Attr, error) {
	f, fid, a, err := b.FS.Create(ctx, parent, name, flags, mode)
	if err != nil {
		return nil, fid, a, err
	}
	return f, fid, a, nil
}

func (b backend) Open(ctx context.Context, fid wire.FID, flags uint32) (fusefs.File, error) {
	f, err := b.FS.Open(ctx, fid, flags)
	if err != nil {
		return nil, err
	}
	return f, nil
}
