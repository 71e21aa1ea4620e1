package client

import "context"

// Creds are the credentials of the process on whose behalf a call is made.
// The FUSE adapter puts the caller's into the context; every RPC carries
// them in its envelope, and the MDT checks permissions against them.
type Creds struct {
	UID, GID uint32
	Groups   []uint32
	PID      uint32
	// JobID names the job for the servers' statistics (Lustre's jobid).
	JobID string
}

type credsKey struct{}

// WithCreds returns a context carrying c.
func WithCreds(ctx context.Context, c Creds) context.Context {
	return context.WithValue(ctx, credsKey{}, c)
}

// CredsFrom returns the credentials ctx carries; without any it returns
// root's, which is what a daemon acting on its own behalf (flush, close at
// unmount) uses.
func CredsFrom(ctx context.Context) Creds {
	if c, ok := ctx.Value(credsKey{}).(Creds); ok {
		return c
	}
	return Creds{}
}
