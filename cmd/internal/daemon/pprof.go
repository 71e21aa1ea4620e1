package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
)

// ErrPprofAddr: the pprof address (--pprof, the client's pprof=) is not a
// loopback one.
var ErrPprofAddr = errors.New("pprof: want a loopback HOST:PORT (127.0.0.1:6060, [::1]:6060, localhost:6060)")

// StartPprof serves Go's net/http/pprof profiles (CPU, heap, goroutines,
// mutex, block, trace) on addr, a loopback HOST:PORT: they expose the
// daemon's internals, so no other address is accepted. Off by default
// (an empty address). It returns the address listened on (port 0 picks one) and
// a stop function that closes the listener and waits for the server.
func StartPprof(addr string, log *zap.Logger) (string, func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %q: %w", ErrPprofAddr, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("%w: %q", ErrPprofAddr, addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("pprof %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", zap.Error(err))
		}
	}()
	log.Info("serving pprof", zap.String("addr", l.Addr().String()))
	return l.Addr().String(), func() {
		_ = srv.Close()
		<-done
	}, nil
}
