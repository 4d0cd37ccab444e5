package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/chorusledger/chorus/internal/identity/pemparse"
)

// ClientAuth is how a server authenticates its clients' TLS certificates.
type ClientAuth int

const (
	// RequireClientCert refuses a client that presents no certificate or a
	// certificate that does not chain to the client CAs. For links between
	// nodes and for the admin port.
	RequireClientCert ClientAuth = iota + 1
	// VerifyClientCertIfGiven accepts a client without a certificate, and
	// verifies one that is presented against the client CAs. For the
	// client-facing port, where Fabric's Gateway clients may use
	// server-side TLS only.
	VerifyClientCertIfGiven
)

// String names the mode as in logs.
func (m ClientAuth) String() string {
	switch m {
	case RequireClientCert:
		return "RequireClientCert"
	case VerifyClientCertIfGiven:
		return "VerifyClientCertIfGiven"
	default:
		return fmt.Sprintf("ClientAuth(%d)", int(m))
	}
}

// TLSOption adjusts a server TLS configuration built by ServerTLS.
type TLSOption func(*serverOptions)

type serverOptions struct {
	logger    *slog.Logger
	requireOU string
}

// WithLogger makes the server's KeyPair log certificate reloads and failed
// reloads to logger. Without it they are not logged.
func WithLogger(logger *slog.Logger) TLSOption {
	return func(o *serverOptions) { o.logger = logger }
}

// RequireClientOU refuses, during the handshake, a client certificate whose
// subject has no organizational unit ou, such as "admin" on the admin port.
// It checks only certificates that are presented: combine it with
// RequireClientCert.
func RequireClientOU(ou string) TLSOption {
	return func(o *serverOptions) { o.requireOU = ou }
}

// ServerTLS returns the TLS configuration of a server that presents the
// certificate in certFile with the key in keyFile, reloaded when the files
// change (see KeyPair), and authenticates clients against clientCAs as mode
// says. It accepts TLS 1.2 and later only. The key pair is read once here,
// so a missing or mismatched file is reported at start.
func ServerTLS(certFile, keyFile string, clientCAs *x509.CertPool, mode ClientAuth, opts ...TLSOption) (*tls.Config, error) {
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	var auth tls.ClientAuthType
	switch mode {
	case RequireClientCert:
		auth = tls.RequireAndVerifyClientCert
		if clientCAs == nil {
			return nil, errors.New("transport: RequireClientCert needs the client CAs")
		}
	case VerifyClientCertIfGiven:
		auth = tls.VerifyClientCertIfGiven
	default:
		return nil, fmt.Errorf("transport: unknown client authentication mode %v", mode)
	}
	kp, err := LoadKeyPair(certFile, keyFile, o.logger)
	if err != nil {
		return nil, err
	}
	if clientCAs == nil {
		// VerifyClientCertIfGiven with no CAs: every presented certificate
		// fails verification, rather than falling back to the system pool.
		clientCAs = x509.NewCertPool()
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.GetCertificate,
		ClientAuth:     auth,
		ClientCAs:      clientCAs,
	}
	if ou := o.requireOU; ou != "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
				return nil // no certificate given; ClientAuth decides
			}
			leaf := cs.VerifiedChains[0][0]
			if !slices.Contains(leaf.Subject.OrganizationalUnit, ou) {
				return fmt.Errorf("transport: client certificate %q has OU %q, this port requires OU=%s",
					leaf.Subject.String(), leaf.Subject.OrganizationalUnit, ou)
			}
			return nil
		}
	}
	return cfg, nil
}

// ClientTLS returns the TLS configuration of a client that trusts servers
// whose certificates chain to rootCAs and, when cert is not nil, presents
// cert's current certificate to servers that ask for one. A nil rootCAs
// trusts no server (never the system's roots). The server name
// is left empty: gRPC sets it from the dialled address, which is why local
// networks' certificates carry 127.0.0.1 and localhost among their SANs.
func ClientTLS(rootCAs *x509.CertPool, cert *KeyPair) *tls.Config {
	if rootCAs == nil {
		rootCAs = x509.NewCertPool()
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    rootCAs,
	}
	if cert != nil {
		cfg.GetClientCertificate = cert.GetClientCertificate
	}
	return cfg
}

// KeyPair is a TLS certificate and its private key, read from two PEM files
// and read again when either file changes. It is safe for concurrent use.
//
// Every call to Certificate (and so every TLS handshake that uses the pair)
// compares the files' modification times and sizes with those of the pair
// in hand; when they differ it reads both files again. Because file systems
// record modification times with a coarse clock, a file written again within
// the same tick and with the same size would look unchanged: for a few
// seconds after a file changed, Certificate also compares the files'
// contents. A pair that fails to load (a certificate written but not yet its
// key, say) leaves the previous one in service; the failure is logged once
// for that state of the files, and loading is retried when they change.
type KeyPair struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu          sync.Mutex
	cert        *tls.Certificate // never nil after LoadKeyPair
	certPEM     []byte           // the bytes cert was parsed from
	keyPEM      []byte
	stamp       pairStamp // of the files cert was read from
	unsettled   bool      // stamp was recent when read: compare contents too
	badPair     pairStamp // of the files that last failed to load
	statFailing bool      // a file could not be stat'ed; logged once
}

// settleTime is how long after a file's modification time its contents are
// compared as well as its stamp.
const settleTime = 2 * time.Second

// fileStamp identifies one version of a file by what stat tells.
type fileStamp struct {
	mod  time.Time
	size int64
}

func (s fileStamp) equal(o fileStamp) bool { return s.mod.Equal(o.mod) && s.size == o.size }

type pairStamp struct{ cert, key fileStamp }

func (s pairStamp) equal(o pairStamp) bool { return s.cert.equal(o.cert) && s.key.equal(o.key) }

// recent tells whether either file changed less than settleTime before now.
func (s pairStamp) recent(now time.Time) bool {
	return now.Sub(s.cert.mod) < settleTime || now.Sub(s.key.mod) < settleTime
}

// LoadKeyPair reads the certificate in certFile (the leaf first, then any
// intermediates) and its private key in keyFile. logger, when not nil,
// receives a line when the pair is reloaded or fails to reload.
func LoadKeyPair(certFile, keyFile string, logger *slog.Logger) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile, logger: logger}
	stamp, err := k.statPair()
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := k.readFiles()
	if err != nil {
		return nil, err
	}
	cert, err := k.parse(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	k.cert, k.certPEM, k.keyPEM = cert, certPEM, keyPEM
	k.stamp, k.unsettled = stamp, stamp.recent(time.Now())
	return k, nil
}

// Certificate returns the current pair, reading the files again if they
// changed since the last call. Its Leaf is set. The caller must not modify
// it.
func (k *KeyPair) Certificate() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	stamp, err := k.statPair()
	if err != nil {
		// A file may be missing for a moment while it is being replaced;
		// keep serving the pair in hand.
		if !k.statFailing && k.logger != nil {
			k.logger.Warn("TLS key pair could not be checked for renewal; serving the previous certificate",
				"cert_file", k.certFile, "key_file", k.keyFile, "error", err)
		}
		k.statFailing = true
		return k.cert
	}
	k.statFailing = false
	recent := stamp.recent(time.Now())
	if !recent && (stamp.equal(k.stamp) && !k.unsettled || stamp.equal(k.badPair)) {
		return k.cert
	}
	certPEM, keyPEM, err := k.readFiles()
	if err == nil && bytes.Equal(certPEM, k.certPEM) && bytes.Equal(keyPEM, k.keyPEM) {
		k.stamp, k.unsettled, k.badPair = stamp, recent, pairStamp{}
		return k.cert
	}
	var cert *tls.Certificate
	if err == nil {
		cert, err = k.parse(certPEM, keyPEM)
	}
	if err != nil {
		if !stamp.equal(k.badPair) && k.logger != nil {
			k.logger.Warn("TLS key pair changed but could not be loaded; serving the previous certificate",
				"cert_file", k.certFile, "key_file", k.keyFile, "error", err)
		}
		k.badPair = stamp
		return k.cert
	}
	k.cert, k.certPEM, k.keyPEM = cert, certPEM, keyPEM
	k.stamp, k.unsettled, k.badPair = stamp, recent, pairStamp{}
	if k.logger != nil {
		k.logger.Info("TLS certificate reloaded",
			"cert_file", k.certFile, "subject", cert.Leaf.Subject.String(),
			"serial", cert.Leaf.SerialNumber.Text(16),
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert
}

// Leaf returns the current certificate, parsed. The caller must not modify
// it.
func (k *KeyPair) Leaf() *x509.Certificate { return k.Certificate().Leaf }

// GetCertificate serves the current pair to a TLS server; it is meant for
// tls.Config.GetCertificate.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// GetClientCertificate presents the current pair to a TLS server that asks
// for a client certificate; it is meant for tls.Config.GetClientCertificate.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

func (k *KeyPair) statPair() (pairStamp, error) {
	c, err := statFile(k.certFile)
	if err != nil {
		return pairStamp{}, err
	}
	kk, err := statFile(k.keyFile)
	if err != nil {
		return pairStamp{}, err
	}
	return pairStamp{cert: c, key: kk}, nil
}

func statFile(name string) (fileStamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, fmt.Errorf("transport: %w", err)
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func (k *KeyPair) readFiles() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(k.certFile); err != nil {
		return nil, nil, fmt.Errorf("transport: TLS certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(k.keyFile); err != nil {
		return nil, nil, fmt.Errorf("transport: TLS key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// parse checks that the key matches the certificate and parses the leaf.
func (k *KeyPair) parse(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("transport: TLS key pair %s, %s: %w", k.certFile, k.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("transport: TLS certificate %s: %w", k.certFile, err)
		}
	}
	return &cert, nil
}

// ReadCertificates reads every certificate of a PEM file: a CA bundle, or a
// certificate followed by its chain. Every PEM block must be a CERTIFICATE,
// and there must be at least one.
func ReadCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	certs, err := pemparse.Certificates(data)
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %w", file, err)
	}
	return certs, nil
}

// LoadCertPool reads the certificates of every file (see ReadCertificates)
// into a new pool. Every certificate is a trust anchor: a CA file may hold
// roots and intermediates alike.
func LoadCertPool(files ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		certs, err := ReadCertificates(f)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}
