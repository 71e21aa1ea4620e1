//go:build !(rdma && cgo)

package o2iblnd

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// hostProvider would open the host's RDMA devices; this build has none.
func hostProvider(*zap.Logger) (verbs.Provider, error) {
	return nil, fmt.Errorf("%w (%w)", ErrNoRDMA, lnet.ErrNotSupported)
}
