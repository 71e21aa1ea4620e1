package socklnd

import (
	"testing"

	"github.com/stria-fs/stria/lnet/lndtest"
)

func TestConformance(t *testing.T) {
	lndtest.Run(t, newHarness(Config{}))
}

func TestConformanceInline(t *testing.T) {
	lndtest.RunInline(t, newHarness(Config{}))
}
