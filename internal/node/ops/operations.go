package ops

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chorusledger/chorus/internal/buildinfo"
)

// DefaultCheckTimeout bounds each health and readiness check when
// Options.CheckTimeout is zero.
const DefaultCheckTimeout = 5 * time.Second

// CheckFunc reports whether one aspect of the node is healthy or ready: nil
// if it is, else an error whose message says what is wrong ("catching up:
// height 12 of 40"). It must return promptly once ctx is done.
type CheckFunc func(ctx context.Context) error

// Options configures an operations endpoint. The zero value is valid.
type Options struct {
	// Logger receives the endpoint's own lines: level changes, checks that
	// start or stop failing, server errors. Nil discards them.
	Logger *slog.Logger
	// Registry holds the metrics /metrics serves. Nil makes a new one with
	// NewRegistry; either way Operations.Registry returns it.
	Registry *prometheus.Registry
	// Level is the process's log level, read and set through /logspec. Nil
	// leaves /logspec out.
	Level *slog.LevelVar
	// TLS, when not nil, makes the endpoint serve HTTPS with this
	// configuration. Set ClientAuth in it to require client certificates.
	TLS *tls.Config
	// CheckTimeout bounds each check; zero means DefaultCheckTimeout.
	CheckTimeout time.Duration
}

// Operations is a node's operations endpoint (see the package
// documentation). NewOperations binds its address; Serve serves it until
// Shutdown.
type Operations struct {
	logger       *slog.Logger
	registry     *prometheus.Registry
	level        *slog.LevelVar
	checkTimeout time.Duration
	lis          net.Listener
	srv          *http.Server
	mux          *http.ServeMux

	mu      sync.Mutex
	health  map[string]CheckFunc
	ready   map[string]CheckFunc
	failing map[string]string // "health/name" or "ready/name" → last message, while failing
}

// NewOperations listens on addr ("127.0.0.1:9443"; port 0 picks a free
// one) and prepares the endpoints. Nothing is served until Serve.
func NewOperations(addr string, opts Options) (*Operations, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		var err error
		if reg, err = NewRegistry(); err != nil {
			return nil, err
		}
	}
	timeout := opts.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ops: operations endpoint: %w", err)
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
		lis = tls.NewListener(lis, opts.TLS)
	} else if !isLoopback(lis.Addr()) {
		logger.Warn("operations endpoint serves plain HTTP on an address other than loopback; configure TLS to protect it",
			"address", lis.Addr().String())
	}
	o := &Operations{
		logger:       logger,
		registry:     reg,
		level:        opts.Level,
		checkTimeout: timeout,
		lis:          lis,
		mux:          http.NewServeMux(),
		health:       make(map[string]CheckFunc),
		ready:        make(map[string]CheckFunc),
		failing:      make(map[string]string),
	}
	o.srv = &http.Server{
		Handler:           o.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	})
	o.mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, metrics))
	o.mux.HandleFunc("GET /healthz", o.serveHealth)
	o.mux.HandleFunc("GET /readyz", o.serveReady)
	o.mux.HandleFunc("GET /version", serveVersion)
	if o.level != nil {
		o.mux.HandleFunc("GET /logspec", o.getLogSpec)
		o.mux.HandleFunc("PUT /logspec", o.putLogSpec)
	}
	logger.Info("operations endpoint listening", "url", scheme+"://"+lis.Addr().String())
	return o, nil
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors and chorus_build_info{version,go_version,platform}, always 1.
func NewRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "chorus_build_info",
		Help:        "The running build of Chorus; always 1.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "go_version": bi.GoVersion, "platform": bi.Platform},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ops: registering metrics: %w", err)
		}
	}
	return reg, nil
}

// Addr returns the address the endpoint listens on.
func (o *Operations) Addr() net.Addr { return o.lis.Addr() }

// Registry returns the registry whose metrics /metrics serves; the node's
// components register their metrics with it.
func (o *Operations) Registry() *prometheus.Registry { return o.registry }

// Handler returns the endpoint's handler, for tests and for embedding.
func (o *Operations) Handler() http.Handler { return o.mux }

// Handle adds a handler for pattern (as http.ServeMux patterns, such as
// "GET /explorer/"), for pages beyond the standard endpoints.
func (o *Operations) Handle(pattern string, h http.Handler) { o.mux.Handle(pattern, h) }

// AddHealthCheck adds a liveness check under name, replacing any check of
// that name.
func (o *Operations) AddHealthCheck(name string, check CheckFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.health[name] = check
}

// RemoveHealthCheck removes the liveness check of that name, if any.
func (o *Operations) RemoveHealthCheck(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.health, name)
	delete(o.failing, "health/"+name)
}

// AddReadinessCheck adds a readiness check under name ("channel
// mychannel"), replacing any check of that name.
func (o *Operations) AddReadinessCheck(name string, check CheckFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ready[name] = check
}

// RemoveReadinessCheck removes the readiness check of that name, if any (a
// channel left, say).
func (o *Operations) RemoveReadinessCheck(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.ready, name)
	delete(o.failing, "ready/"+name)
}

// Serve serves the endpoints until Shutdown, and then returns nil; any
// other return is a failure of the listener.
func (o *Operations) Serve() error {
	if err := o.srv.Serve(o.lis); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ops: operations endpoint: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, waits for requests in progress
// until ctx is done, and closes the listener, whether or not Serve was
// called.
func (o *Operations) Shutdown(ctx context.Context) error {
	err := o.srv.Shutdown(ctx)
	_ = o.lis.Close() // already closed if Serve ran
	if err != nil {
		return fmt.Errorf("ops: operations endpoint shutdown: %w", err)
	}
	return nil
}

// checkReport is the JSON body of /healthz and /readyz.
type checkReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

const checkOK = "ok"

func (o *Operations) serveHealth(w http.ResponseWriter, r *http.Request) {
	o.serveChecks(w, r, "health", o.health, "ok", "unhealthy", slog.LevelWarn)
}

func (o *Operations) serveReady(w http.ResponseWriter, r *http.Request) {
	o.serveChecks(w, r, "ready", o.ready, "ready", "not ready", slog.LevelInfo)
}

// serveChecks runs the checks of set and answers 200 with status good when
// all pass, else 503 with status bad. A check that starts failing is logged
// at failLevel, and again at info when it passes again; the changing
// message of a check that keeps failing ("height 12 of 40", "height 13 of
// 40") is not logged on every probe.
func (o *Operations) serveChecks(w http.ResponseWriter, r *http.Request, kind string, set map[string]CheckFunc, good, bad string, failLevel slog.Level) {
	o.mu.Lock()
	checks := maps.Clone(set)
	o.mu.Unlock()

	results := o.runChecks(r.Context(), checks)
	report := checkReport{Status: good, Checks: results}
	code := http.StatusOK
	o.mu.Lock()
	for name, msg := range results {
		key := kind + "/" + name
		if _, current := set[name]; !current {
			delete(results, name) // removed while it ran
			continue
		}
		_, wasFailing := o.failing[key]
		switch {
		case msg != checkOK:
			report.Status, code = bad, http.StatusServiceUnavailable
			if !wasFailing {
				o.logger.Log(r.Context(), failLevel, kind+" check failing", "check", name, "reason", msg)
			}
			o.failing[key] = msg
		case wasFailing:
			o.logger.Info(kind+" check passing again", "check", name)
			delete(o.failing, key)
		}
	}
	o.mu.Unlock()
	writeJSON(w, code, report)
}

// runChecks runs every check concurrently, each bounded by the check
// timeout, and returns each one's state: "ok" or what is wrong.
func (o *Operations) runChecks(ctx context.Context, checks map[string]CheckFunc) map[string]string {
	results := make(map[string]string, len(checks))
	if len(checks) == 0 {
		return results
	}
	ctx, cancel := context.WithTimeout(ctx, o.checkTimeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(checks)) // buffered: a late check never blocks
	for name, check := range checks {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- result{name, fmt.Errorf("check panicked: %v", p)}
				}
			}()
			done <- result{name, check(ctx)}
		}()
	}
	for range len(checks) {
		select {
		case res := <-done:
			msg := checkOK
			if res.err != nil {
				if msg = res.err.Error(); msg == checkOK || msg == "" {
					msg = fmt.Sprintf("failed (%q)", msg) // never mistaken for a pass
				}
			}
			results[res.name] = msg
		case <-ctx.Done():
			for name := range checks {
				if _, ok := results[name]; !ok {
					results[name] = fmt.Sprintf("no answer within %v", o.checkTimeout)
				}
			}
			return results
		}
	}
	return results
}

func serveVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, buildinfo.Get())
}

// logSpec is the JSON body of /logspec.
type logSpec struct {
	Level string `json:"level"`
}

func (o *Operations) getLogSpec(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, logSpec{Level: levelName(o.level.Level())})
}

func (o *Operations) putLogSpec(w http.ResponseWriter, r *http.Request) {
	if !mayChange(r) {
		writeError(w, http.StatusForbidden,
			"changing the log level needs a loopback connection or a verified client certificate")
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	var spec logSpec
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`want a body such as {"level":"debug"}: %v`, err))
		return
	}
	level, err := ParseLevel(spec.Level)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	old := o.level.Level()
	o.level.Set(level)
	o.logger.Info("log level changed", "from", levelName(old), "to", levelName(level), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, logSpec{Level: levelName(level)})
}

// mayChange tells whether r may change the node's state: it comes from a
// loopback address, or over TLS with a verified client certificate.
func mayChange(r *http.Request) bool {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseLevel reads a log level as /logspec and the node's configuration
// write it: debug, info, warn or error, in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not a log level (want debug, info, warn or error)", s)
}

// levelName writes a level as ParseLevel reads it; levels between the four
// names come out as slog writes them ("info+2").
func levelName(l slog.Level) string { return strings.ToLower(l.String()) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Register registers c with r and returns the collector r holds under c's
// description: c itself, or the collector registered before it when two
// components of one node (or two instances of one) describe the same
// metrics, so that both count into the one r serves. Any other failure
// (the same name with other labels or another type) is a programming
// error, and panics.
func Register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	err := r.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("ops: registering metrics: %v", err))
}

// LedgerHeight registers in r, and returns, the gauge chorus_ledger_height
// that peers and orderers alike set for each channel they hold.
func LedgerHeight(r prometheus.Registerer) *prometheus.GaugeVec {
	return Register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chorus_ledger_height",
		Help: "Blocks in the channel's ledger on this node."}, []string{"channel"}))
}
