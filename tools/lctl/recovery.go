package lctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/obd"
)

// newAbortRecovery is `lctl --device N abort_recovery`: the device (an
// index of `lctl dl`, or a name) ends its recovery window now. Clients
// that have not replayed their opens by then lose them, and the orphans
// nobody reopened are destroyed.
func newAbortRecovery(o *Options) *cobra.Command {
	return deviceCommand(o, "abort_recovery", "end the recovery window of the device named by --device")
}

// newReadonly is `lctl --device N readonly`: the target stops writing to
// disk until it restarts and goes on answering, every change since
// kept by its clients for replay (Lustre's replay barrier, for recovery
// tests: stop the server after it and everything since is replayed).
func newReadonly(o *Options) *cobra.Command {
	return deviceCommand(o, "readonly", "stop the target named by --device writing to disk until it restarts")
}

// deviceCommand is a command of the device named by --device, sent to
// every daemon of the node until one has the device.
func deviceCommand(o *Options, use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Device == "" {
				return fmt.Errorf("%s: no device: use --device N (an index of lctl dl) or a name", use)
			}
			name, err := o.deviceName(cmd, o.Device)
			if err != nil {
				return err
			}
			replies, err := o.callAll(cmd.Context(), use, name)
			if err != nil {
				return err
			}
			var firstErr error
			for _, r := range replies {
				switch {
				case r.Err == nil:
					return nil
				case strings.Contains(r.Err.Error(), obd.ErrNoDevice.Error()):
				case firstErr == nil:
					firstErr = fmt.Errorf("%s %s: %w", use, name, r.Err)
				}
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w: %s", use, obd.ErrNoDevice, name)
			}
			return firstErr
		},
	}
}

// deviceName resolves --device: an index of `lctl dl` or a device name.
func (o *Options) deviceName(cmd *cobra.Command, dev string) (string, error) {
	idx, err := strconv.Atoi(dev)
	if err != nil {
		return dev, nil
	}
	devs, err := o.devices(cmd.Context())
	if err != nil {
		return "", err
	}
	if idx < 0 || idx >= len(devs) {
		return "", fmt.Errorf("--device %d: %w (lctl dl lists %d)", idx, obd.ErrNoDevice, len(devs))
	}
	return devs[idx][3], nil
}
