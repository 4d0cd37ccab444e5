package ops

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusledger/chorus/internal/identity"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// issueTo writes a certificate valid for lifetime to file and returns its
// NotAfter.
func issueTo(t *testing.T, ca *identity.CA, file string, lifetime time.Duration) time.Time {
	t.Helper()
	certPEM, _, err := ca.Issue("orderer0", identity.RoleOrderer, lifetime, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := identity.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert.NotAfter
}

// countLines counts the log lines containing msg.
func countLines(logs, msg string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, msg) {
			n++
		}
	}
	return n
}

func TestCertificateWatcherLogs(t *testing.T) {
	ca, err := identity.NewCA("OrdererCA", "OrdererMSP", 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "signcert.pem")
	notAfter := issueTo(t, ca, file, 90*24*time.Hour)

	logs := &syncBuffer{}
	clock := &fakeClock{now: time.Now()}
	w := newCertWatcher(slog.New(slog.NewTextHandler(logs, nil)), map[string]string{"signing": file}, 30*24*time.Hour, clock.Now)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(w); err != nil {
		t.Fatal(err)
	}

	w.check()
	if logs.String() != "" {
		t.Errorf("90 days left logged:\n%s", logs)
	}
	want := float64(notAfter.Unix())
	if got := gauge(t, reg, "chorus_certificate_expiry_timestamp_seconds"); got != want {
		t.Errorf("expiry gauge = %v, want %v", got, want)
	}

	// 29 days left: a warning, then none for the rest of the day.
	clock.now = notAfter.Add(-29 * 24 * time.Hour)
	w.check()
	clock.Advance(time.Hour)
	w.check()
	if n := countLines(logs.String(), "certificate expires soon"); n != 1 {
		t.Errorf("%d warnings within a day, want 1:\n%s", n, logs)
	}
	if got := gauge(t, reg, "chorus_certificate_expiry_seconds_remaining"); got != (29*24*time.Hour - time.Hour).Seconds() {
		t.Errorf("remaining gauge = %v", got)
	}
	// A day later, again.
	clock.Advance(24 * time.Hour)
	w.check()
	if n := countLines(logs.String(), "certificate expires soon"); n != 2 {
		t.Errorf("%d warnings after a day, want 2:\n%s", n, logs)
	}

	// Expired: an error at once.
	clock.now = notAfter.Add(time.Minute)
	w.check()
	if n := countLines(logs.String(), "level=ERROR msg=\"certificate has expired"); n != 1 {
		t.Errorf("%d expiry errors, want 1:\n%s", n, logs)
	}
	if got := gauge(t, reg, "chorus_certificate_expiry_seconds_remaining"); got >= 0 {
		t.Errorf("remaining gauge = %v after expiry, want negative", got)
	}

	// Renewed: noticed and logged, and the warnings stop.
	newNotAfter := issueTo(t, ca, file, 200*24*time.Hour)
	w.check()
	if n := countLines(logs.String(), "certificate renewed"); n != 1 {
		t.Errorf("renewal not logged:\n%s", logs)
	}
	if got := gauge(t, reg, "chorus_certificate_expiry_timestamp_seconds"); got != float64(newNotAfter.Unix()) {
		t.Errorf("expiry gauge after renewal = %v, want %v", got, float64(newNotAfter.Unix()))
	}

	// Unreadable: logged once a day, the last expiry stays exported.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	w.check()
	w.check()
	if n := countLines(logs.String(), "certificate file could not be read"); n != 1 {
		t.Errorf("%d read errors logged, want 1:\n%s", n, logs)
	}
	if got := gauge(t, reg, "chorus_certificate_expiry_timestamp_seconds"); got != float64(newNotAfter.Unix()) {
		t.Errorf("expiry gauge while unreadable = %v", got)
	}
}

func TestWatchCertificatesUnreadableAtStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	err := WatchCertificates(ctx, slog.New(slog.NewTextHandler(logs, nil)), reg,
		map[string]string{"tls": filepath.Join(t.TempDir(), "missing.pem")}, 0, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("metrics for an unreadable file: %v, %v", mfs, err)
	}
	if !strings.Contains(logs.String(), "no such file") {
		t.Errorf("not logged:\n%s", logs)
	}
}

// gauge returns the value of the one series of name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
