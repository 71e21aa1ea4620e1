// Package lctl is Stria's lctl: the admin tool for the network layer,
// parameters and devices. It reaches the Stria processes of this node
// through their control sockets (package obd) and prints Lustre's formats.
package lctl

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/obd"
)

// Options are lctl's process-wide settings.
type Options struct {
	// ControlDir holds the control sockets of this node's Stria processes.
	ControlDir string
	// Timeout bounds each request to a process.
	Timeout time.Duration
	// Device is --device, for device commands (abort_recovery).
	Device string
}

// NewCommand returns the lctl root command.
func NewCommand() *cobra.Command {
	o := &Options{}
	root := &cobra.Command{
		Use:           "lctl",
		Short:         "Stria network, parameter and device administration",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.ControlDir, "ctl-dir", obd.ControlDir(),
		"directory of this node's control sockets (env STRIA_CTL_DIR)")
	root.PersistentFlags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "bound on each request")
	root.PersistentFlags().StringVar(&o.Device, "device", "",
		"the device a device command acts on: an index of lctl dl, or a name")
	root.AddCommand(
		newListNIDs(o),
		newPing(o),
		newNet(o),
		newGetParam(o),
		newSetParam(o),
		newListParam(o),
		newDL(o),
		newAbortRecovery(o),
		newReadonly(o),
	)
	return root
}

func (o *Options) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, o.Timeout)
}

// callAll asks every process and fails on the first error.
func (o *Options) callAll(ctx context.Context, cmd string, args ...string) ([]obd.Reply, error) {
	ctx, cancel := o.ctx(ctx)
	defer cancel()
	replies, err := obd.CallAll(ctx, o.ControlDir, cmd, args...)
	if err != nil {
		return nil, err
	}
	return replies, nil
}
