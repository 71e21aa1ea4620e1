package socklnd

import (
	"testing"

	"github.com/stria-fs/stria/lnet/lndtest"
)

func TestConformance(t *testing.T) {
	lndtest.Run(t, newHarness(Config{}))
}
