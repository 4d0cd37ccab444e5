package ops

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusledger/chorus/internal/node/transport"
)

const (
	// DefaultCertificateWarning is how long before its expiry a certificate
	// is warned about when WatchCertificates is given no period.
	DefaultCertificateWarning = 30 * 24 * time.Hour
	// DefaultCertificateInterval is how often WatchCertificates reads the
	// files again when given no interval.
	DefaultCertificateInterval = time.Hour
	// certificateRelog is how often a certificate that stays close to or
	// past its expiry (or unreadable) is logged again.
	certificateRelog = 24 * time.Hour
)

// WatchCertificates exports the expiry of each certificate file of certs
// (name → file, such as "signing" → "/etc/chorus/signcert.pem") as the
// gauges chorus_certificate_expiry_timestamp_seconds{name} and
// chorus_certificate_expiry_seconds_remaining{name}, registered with reg.
// When a file holds several certificates (a certificate and its chain, a CA
// bundle), the one that expires first counts.
//
// It logs a warning when a certificate is within warnBefore of its expiry
// (zero means DefaultCertificateWarning), an error once it has expired, and
// repeats either once a day while it lasts. It reads the files at once
// (before returning) and then every interval (zero means
// DefaultCertificateInterval) until ctx is done, in one goroutine of its
// own; a renewed certificate is logged and its new expiry exported. A file
// that cannot be read is logged, once a day, and its last known expiry
// stays exported.
//
// It returns an error only if the metrics cannot be registered.
func WatchCertificates(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer, certs map[string]string, warnBefore, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultCertificateInterval
	}
	w := newCertWatcher(logger, certs, warnBefore, time.Now)
	if err := reg.Register(w); err != nil {
		return fmt.Errorf("ops: registering certificate metrics: %w", err)
	}
	w.check()
	if len(certs) == 0 {
		return nil
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.check()
			}
		}
	}()
	return nil
}

var (
	expiryDesc = prometheus.NewDesc("chorus_certificate_expiry_timestamp_seconds",
		"When the certificate expires (its NotAfter), as a Unix time.", []string{"name"}, nil)
	remainingDesc = prometheus.NewDesc("chorus_certificate_expiry_seconds_remaining",
		"Seconds until the certificate expires; negative once it has.", []string{"name"}, nil)
)

// certWatcher keeps the expiry of each watched file and is the Prometheus
// collector of the gauges.
type certWatcher struct {
	logger     *slog.Logger
	files      map[string]string
	warnBefore time.Duration
	now        func() time.Time

	mu    sync.Mutex
	state map[string]*certState
}

// certState is what is known of one watched file.
type certState struct {
	cert     *x509.Certificate // the first to expire; nil until read once
	severity severity          // of the last log line about its expiry
	logged   time.Time         // when that line was written
	readErr  string            // the last read error, "" after a success
	errAt    time.Time         // when it was logged
}

type severity int

const (
	sevOK severity = iota
	sevExpiring
	sevExpired
)

func newCertWatcher(logger *slog.Logger, files map[string]string, warnBefore time.Duration, now func() time.Time) *certWatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if warnBefore <= 0 {
		warnBefore = DefaultCertificateWarning
	}
	w := &certWatcher{
		logger:     logger,
		files:      maps.Clone(files),
		warnBefore: warnBefore,
		now:        now,
		state:      make(map[string]*certState, len(files)),
	}
	for name := range files {
		w.state[name] = &certState{}
	}
	return w
}

// check reads every file, updates the state and logs what is due.
func (w *certWatcher) check() {
	for _, name := range slices.Sorted(maps.Keys(w.files)) {
		file := w.files[name]
		certs, err := transport.ReadCertificates(file)
		now := w.now()
		w.mu.Lock()
		st := w.state[name]
		if err != nil {
			msg := err.Error()
			if msg != st.readErr || now.Sub(st.errAt) >= certificateRelog {
				w.logger.Warn("certificate file could not be read", "name", name, "file", file, "error", msg)
				st.readErr, st.errAt = msg, now
			}
			w.mu.Unlock()
			continue
		}
		st.readErr = ""
		first := slices.MinFunc(certs, func(a, b *x509.Certificate) int { return a.NotAfter.Compare(b.NotAfter) })
		if st.cert != nil && !first.NotAfter.Equal(st.cert.NotAfter) {
			w.logger.Info("certificate renewed", "name", name, "file", file,
				"subject", first.Subject.String(), "serial", first.SerialNumber.Text(16),
				"previous_not_after", st.cert.NotAfter.UTC(), "not_after", first.NotAfter.UTC())
		}
		st.cert = first
		w.logExpiry(name, file, st, now)
		w.mu.Unlock()
	}
}

// logExpiry logs a certificate that expires soon or has expired, on a
// change of severity and then once a day. w.mu is held.
func (w *certWatcher) logExpiry(name, file string, st *certState, now time.Time) {
	left := st.cert.NotAfter.Sub(now)
	sev := sevOK
	switch {
	case left <= 0:
		sev = sevExpired
	case left <= w.warnBefore:
		sev = sevExpiring
	}
	if sev == sevOK {
		st.severity = sevOK
		return
	}
	if sev == st.severity && now.Sub(st.logged) < certificateRelog {
		return
	}
	st.severity, st.logged = sev, now
	attrs := []any{
		"name", name, "file", file, "subject", st.cert.Subject.String(),
		"serial", st.cert.SerialNumber.Text(16), "not_after", st.cert.NotAfter.UTC(),
	}
	if sev == sevExpired {
		w.logger.Error("certificate has expired; renew it", append(attrs, "expired_for", left.Abs().Round(time.Minute).String())...)
		return
	}
	w.logger.Warn("certificate expires soon; renew it",
		append(attrs, "days_left", int(left/(24*time.Hour)), "expires_in", left.Round(time.Minute).String())...)
}

// Describe implements prometheus.Collector.
func (w *certWatcher) Describe(ch chan<- *prometheus.Desc) {
	ch <- expiryDesc
	ch <- remainingDesc
}

// Collect implements prometheus.Collector: the remaining time is computed
// at scrape time.
func (w *certWatcher) Collect(ch chan<- prometheus.Metric) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, st := range w.state {
		if st.cert == nil {
			continue
		}
		notAfter := st.cert.NotAfter
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(notAfter.Unix()), name)
		ch <- prometheus.MustNewConstMetric(remainingDesc, prometheus.GaugeValue, notAfter.Sub(now).Seconds(), name)
	}
}
