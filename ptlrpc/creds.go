package ptlrpc

import (
	"context"

	"github.com/stria-fs/stria/wire"
)

// Creds are the caller's credentials and job id; they travel in the context
// of a call and are stamped on the request's envelope.
type Creds struct {
	UID, GID, FSUID, FSGID uint32
	JobID                  string
}

type credsKey struct{}

// WithCreds returns ctx carrying c.
func WithCreds(ctx context.Context, c Creds) context.Context {
	return context.WithValue(ctx, credsKey{}, c)
}

// CredsFrom returns the credentials in ctx (zero if none).
func CredsFrom(ctx context.Context) (Creds, bool) {
	c, ok := ctx.Value(credsKey{}).(Creds)
	return c, ok
}

func (c Creds) stamp(m *wire.Msg) {
	m.UID, m.GID, m.FSUID, m.FSGID = c.UID, c.GID, c.FSUID, c.FSGID
	m.JobID = wire.MakeJobID(c.JobID)
}
