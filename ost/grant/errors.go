package grant

import (
	"errors"
	"fmt"

	"github.com/stria-fs/stria/ost/osd"
)

// Sentinel errors of the grant package. ErrNoSpace also matches
// osd.ErrNoSpace and syscall.ENOSPC, which is what the writer gets.
var (
	ErrNoSpace = fmt.Errorf("grant: write exceeds grant and free space: %w", osd.ErrNoSpace)
	ErrConfig  = errors.New("grant: bad configuration")
)
