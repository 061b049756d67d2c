package wechatsim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Start runs a simulator on 127.0.0.1 with a random port. It returns the
// simulator, its base URL ("http://127.0.0.1:PORT", also set as the
// simulator's BaseURL unless opts.BaseURL is set) and a func that stops it.
func Start(opts Options) (*Server, string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("start wechat simulator: %w", err)
	}
	sim := New(opts)
	base := "http://" + ln.Addr().String()
	if opts.BaseURL == "" {
		sim.SetBaseURL(base)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			sim.logf("wechatsim: serve: %v", err)
		}
	}()
	stop := func() {
		_ = hs.Close()
		<-done
	}
	return sim, base, stop, nil
}

// TB is the part of testing.TB that NewTestServer uses; any testing.TB fits.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// NewTestServer starts a simulator like Start and stops it when the test
// ends. It returns the simulator and its base URL.
//
//	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{})
func NewTestServer(t TB, opts Options) (*Server, string) {
	t.Helper()
	sim, base, stop, err := Start(opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(stop)
	return sim, base
}
