//go:build rdma && cgo

package o2iblnd

import (
	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet/o2iblnd/ibverbs"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// hostProvider opens the host's RDMA devices through libibverbs.
func hostProvider(log *zap.Logger) (verbs.Provider, error) {
	return ibverbs.NewProvider(log), nil
}
