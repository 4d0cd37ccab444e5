package ops

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/buildinfo"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// startOps serves an operations endpoint on 127.0.0.1 until the test ends.
func startOps(t *testing.T, opts Options) (*Operations, string) {
	t.Helper()
	o, err := NewOperations("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- o.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return o, "http://" + o.Addr().String()
}

// do sends a request to url and returns the status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func decodeReport(t *testing.T, body string) checkReport {
	t.Helper()
	var r checkReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return r
}

func TestHealthz(t *testing.T) {
	o, base := startOps(t, Options{})
	code, body := do(t, "GET", base+"/healthz", "")
	if code != http.StatusOK || body != `{"status":"ok","checks":{}}`+"\n" {
		t.Errorf("no checks: %d %s", code, body)
	}
	o.AddHealthCheck("disk", func(context.Context) error { return nil })
	o.AddHealthCheck("ledger", func(context.Context) error { return errors.New("write failed: no space left on device") })
	code, body = do(t, "GET", base+"/healthz", "")
	r := decodeReport(t, body)
	if code != http.StatusServiceUnavailable || r.Status != "unhealthy" ||
		r.Checks["disk"] != "ok" || r.Checks["ledger"] != "write failed: no space left on device" {
		t.Errorf("failing check: %d %s", code, body)
	}
	o.RemoveHealthCheck("ledger")
	if code, body := do(t, "GET", base+"/healthz", ""); code != http.StatusOK {
		t.Errorf("after removing the failing check: %d %s", code, body)
	}
	if code, _ := do(t, "POST", base+"/healthz", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", code)
	}
}

func TestReadyzFlips(t *testing.T) {
	logs := &syncBuffer{}
	o, base := startOps(t, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	var height atomic.Int64
	height.Store(12)
	o.AddReadinessCheck("channel mychannel", func(context.Context) error {
		if h := height.Load(); h < 40 {
			return errors.New("catching up: height " + strconv.FormatInt(h, 10) + " of 40")
		}
		return nil
	})
	code, body := do(t, "GET", base+"/readyz", "")
	if code != http.StatusServiceUnavailable ||
		body != `{"status":"not ready","checks":{"channel mychannel":"catching up: height 12 of 40"}}`+"\n" {
		t.Errorf("catching up: %d %s", code, body)
	}
	height.Store(40)
	code, body = do(t, "GET", base+"/readyz", "")
	if code != http.StatusOK || body != `{"status":"ready","checks":{"channel mychannel":"ok"}}`+"\n" {
		t.Errorf("caught up: %d %s", code, body)
	}
	if s := logs.String(); !strings.Contains(s, "ready check failing") || !strings.Contains(s, "ready check passing again") {
		t.Errorf("transitions not logged:\n%s", s)
	}
}

func TestChecksTimeOutAndPanic(t *testing.T) {
	o, base := startOps(t, Options{CheckTimeout: 50 * time.Millisecond})
	o.AddReadinessCheck("stuck", func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // answers late
		return ctx.Err()
	})
	o.AddReadinessCheck("broken", func(context.Context) error { panic("boom") })
	o.AddReadinessCheck("fine", func(context.Context) error { return nil })
	start := time.Now()
	code, body := do(t, "GET", base+"/readyz", "")
	r := decodeReport(t, body)
	if code != http.StatusServiceUnavailable || r.Checks["fine"] != "ok" ||
		!strings.Contains(r.Checks["broken"], "check panicked: boom") ||
		!strings.Contains(r.Checks["stuck"], "no answer within 50ms") {
		t.Errorf("%d %s", code, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("/readyz took %v", d)
	}
}

func TestVersion(t *testing.T) {
	_, base := startOps(t, Options{})
	code, body := do(t, "GET", base+"/version", "")
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	if got != buildinfo.Get() {
		t.Errorf("/version = %+v, want %+v", got, buildinfo.Get())
	}
}

func TestLogSpec(t *testing.T) {
	var level slog.LevelVar
	o, base := startOps(t, Options{Level: &level})
	if code, body := do(t, "GET", base+"/logspec", ""); code != http.StatusOK || body != `{"level":"info"}`+"\n" {
		t.Errorf("GET: %d %s", code, body)
	}
	if code, body := do(t, "PUT", base+"/logspec", `{"level":"debug"}`); code != http.StatusOK || body != `{"level":"debug"}`+"\n" {
		t.Errorf("PUT debug: %d %s", code, body)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level = %v after PUT debug", level.Level())
	}
	if code, body := do(t, "GET", base+"/logspec", ""); body != `{"level":"debug"}`+"\n" {
		t.Errorf("GET after PUT: %d %s", code, body)
	}
	for _, bad := range []string{`{"level":"verbose"}`, `{"lvl":"info"}`, `level=info`} {
		if code, body := do(t, "PUT", base+"/logspec", bad); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("PUT %s: %d %s", bad, code, body)
		}
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("a bad PUT changed the level to %v", level.Level())
	}

	// From another host, without a client certificate: refused.
	req := httptest.NewRequest("PUT", "/logspec", strings.NewReader(`{"level":"error"}`))
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	o.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || level.Level() != slog.LevelDebug {
		t.Errorf("remote PUT: %d %s, level %v", rec.Code, rec.Body, level.Level())
	}
}

func TestLogSpecAbsentWithoutLevel(t *testing.T) {
	_, base := startOps(t, Options{})
	if code, _ := do(t, "GET", base+"/logspec", ""); code != http.StatusNotFound {
		t.Errorf("GET /logspec without a level: %d, want 404", code)
	}
}

func TestMetricsWithCertificates(t *testing.T) {
	ca, err := identity.NewCA("Org1CA", "Org1MSP", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.Issue("peer0", identity.RolePeer, 24*time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signcert.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	o, base := startOps(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := WatchCertificates(ctx, nil, o.Registry(), map[string]string{"signing": file}, 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, "GET", base+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`chorus_certificate_expiry_timestamp_seconds{name="signing"}`,
		`chorus_certificate_expiry_seconds_remaining{name="signing"}`,
		`chorus_build_info{`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Registering twice is refused.
	if err := WatchCertificates(ctx, nil, o.Registry(), map[string]string{"signing": file}, 0, time.Hour); err == nil {
		t.Error("a second watcher on the same registry was accepted")
	}
}

func TestOperationsTLS(t *testing.T) {
	ca, err := identity.NewCA("Org1CA", "Org1MSP", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPEM, keyPEM, err := ca.Issue("ops", identity.RoleMember, time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := transport.ServerTLS(certFile, keyFile, nil, transport.VerifyClientCertIfGiven)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := startOps(t, Options{TLS: cfg})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + o.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("https /healthz: %d", resp.StatusCode)
	}
}

func TestShutdownWithoutServe(t *testing.T) {
	o, err := NewOperations("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOperations("127.0.0.1:notaport", Options{}); err == nil || !strings.HasPrefix(err.Error(), "ops: ") {
		t.Errorf("bad address: err = %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRegister: a second collector with the same description gets the
// first, so both count into what the registry serves; a conflicting one
// panics.
func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "chorus_test_total", Help: "A test counter."}
	first := Register(reg, prometheus.NewCounterVec(opts, []string{"channel"}))
	second := Register(reg, prometheus.NewCounterVec(opts, []string{"channel"}))
	if first != second {
		t.Fatal("the second registration did not return the registered collector")
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "chorus_test_total") {
			t.Errorf("a conflicting registration: %v", p)
		}
	}()
	Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chorus_test_total", Help: "Another."}, []string{"org"}))
}
