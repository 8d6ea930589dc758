// SPDX-License-Identifier: BSD-2-Clause

package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Endpoint is the HTTP server of /metrics on every configured address.
type Endpoint struct {
	log     *slog.Logger
	handler http.Handler

	mu        sync.Mutex
	listeners map[netip.AddrPort]*http.Server
}

// Listen is one address to serve on, with the configuration position that asked for it
// (for messages).
type Listen struct {
	Addr netip.AddrPort
	Pos  string
}

// NewEndpoint makes the endpoint over src. Nothing listens until Apply.
func NewEndpoint(src Sources, log *slog.Logger) *Endpoint {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          slogErrorLog{log},
		// A slow scraper never holds more than one collection in flight.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	return &Endpoint{log: log, handler: mux, listeners: map[netip.AddrPort]*http.Server{}}
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }

// Apply makes the endpoint listen on exactly the addresses given (the `metrics` lines of the
// configuration, at start and at each reload): new ones are opened, gone ones closed, the
// others keep serving. An address that cannot be bound is logged with its position and
// skipped; the rest still listen.
func (e *Endpoint) Apply(addrs []Listen) {
	e.mu.Lock()
	defer e.mu.Unlock()
	want := map[netip.AddrPort]bool{}
	for _, a := range addrs {
		want[a.Addr] = true
		if e.listeners[a.Addr] != nil {
			continue
		}
		ln, err := net.Listen("tcp", a.Addr.String())
		if err != nil {
			e.log.Error(fmt.Sprintf("%s: metrics %s: %v; the metrics endpoint does not listen there", a.Pos, a.Addr, err))
			continue
		}
		srv := &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		e.listeners[a.Addr] = srv
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.Error(fmt.Sprintf("metrics %s: %v", a.Addr, err))
			}
		}()
		e.log.Info(fmt.Sprintf("metrics endpoint listening on http://%s/metrics", a.Addr))
	}
	for a, srv := range e.listeners {
		if !want[a] {
			srv.Close()
			delete(e.listeners, a)
			e.log.Info(fmt.Sprintf("metrics endpoint on %s closed", a))
		}
	}
}

// Close stops every listener.
func (e *Endpoint) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for a, srv := range e.listeners {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(ctx)
		cancel()
		delete(e.listeners, a)
	}
}
