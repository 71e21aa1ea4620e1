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
	return &cobra.Command{
		Use:   "abort_recovery",
		Short: "end the recovery window of the device named by --device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Device == "" {
				return fmt.Errorf("abort_recovery: no device: use --device N (an index of lctl dl) or a name")
			}
			name, err := o.deviceName(cmd, o.Device)
			if err != nil {
				return err
			}
			replies, err := o.callAll(cmd.Context(), "abort_recovery", name)
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
					firstErr = fmt.Errorf("abort_recovery %s: %w", name, r.Err)
				}
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("abort_recovery: %w: %s", obd.ErrNoDevice, name)
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
