package daemon

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
)

func TestPprofServes(t *testing.T) {
	leaktest.Check(t)
	addr, stop, err := StartPprof("127.0.0.1:0", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("goroutine profile: status %d, err %v, body %.80q", resp.StatusCode, err, body)
	}
}

func TestPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "example.com:6060", "6060"} {
		if _, _, err := StartPprof(addr, zaptest.NewLogger(t)); !errors.Is(err, ErrPprofAddr) {
			t.Errorf("pprof %s: %v, want ErrPprofAddr", addr, err)
		}
	}
}
