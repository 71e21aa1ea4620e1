//go:build !linux

package ptlrpc

import "errors"

// pollWaiter is Linux only (see wait.go): elsewhere calls sleep on their
// channel.
type pollWaiter struct{}

func newPollWaiter() (*pollWaiter, error) { return nil, errors.ErrUnsupported }

func (w *pollWaiter) wait(func() bool) {}
func (w *pollWaiter) wake()            {}
func (w *pollWaiter) close()           {}
