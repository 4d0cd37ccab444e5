package node

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/identity/pemparse"
	"github.com/chorusledger/chorus/internal/node/ops"
)

// Role is what a node process is.
type Role string

const (
	// RoleOrderer orders transactions: Broadcast, Deliver and the cluster
	// service between orderers.
	RoleOrderer Role = "orderer"
	// RolePeer keeps ledgers, endorses and commits, and hosts the Gateway.
	RolePeer Role = "peer"
)

// Log formats.
const (
	// LogJSON writes one JSON object per line, for log collectors.
	LogJSON = "json"
	// LogText writes slog's key=value text, for people.
	LogText = "text"
	// LogAuto writes text to a terminal and JSON to anything else.
	LogAuto = "auto"
)

// AdminOU is the organizational unit the admin port requires in a client
// certificate's subject.
const AdminOU = "admin"

// Config is the configuration of one node process, read from one YAML file
// by LoadConfig and overridden by CHORUS_* environment variables (see the
// package documentation). Field comments give each field's YAML path.
//
// Relative paths are resolved against the configuration file's directory
// when they come from the file, and against the working directory when
// they come from the environment; after LoadConfig every path is absolute.
type Config struct {
	// role: "orderer" or "peer". Required.
	Role Role `yaml:"role"`
	// name: the node's name in logs and metrics, such as
	// "orderer0.example.com". Required.
	Name string `yaml:"name"`
	// mspID: the node's organization, such as "OrdererMSP". Required.
	MSPID string `yaml:"mspID"`
	// dataDir: where the node keeps its database and the channels it
	// joined; created at start if missing. Required.
	DataDir string `yaml:"dataDir" chorus:"path"`

	// listen: the node's listeners.
	Listen ListenConfig `yaml:"listen"`
	// identity: the signing identity.
	Identity IdentityConfig `yaml:"identity"`
	// tls: the TLS identity and the CAs it trusts.
	TLS TLSConfig `yaml:"tls"`
	// admin: who may use the admin API.
	Admin AdminConfig `yaml:"admin"`
	// operations: the operations endpoint's protection.
	Operations OperationsConfig `yaml:"operations"`
	// log: logging.
	Log LogConfig `yaml:"log"`
	// storage: the node's database.
	Storage StorageConfig `yaml:"storage"`
	// orderer: settings of orderers; only with role orderer.
	Orderer OrdererConfig `yaml:"orderer"`
	// peer: settings of peers; only with role peer.
	Peer PeerConfig `yaml:"peer"`

	// origins maps a field path to where its value came from ("line 4",
	// "CHORUS_LISTEN_ADDRESS"), for error messages. Nil for a Config built
	// in code.
	origins map[string]string
}

// ListenConfig is the addresses a node listens on, each host:port. A host
// left empty ("":7050) or 0.0.0.0 means every interface.
type ListenConfig struct {
	// listen.address: the gRPC services of the role — Broadcast, Deliver and
	// the cluster service on orderers; Gateway, Endorser and Deliver on
	// peers. TLS; client certificates verified when given. Required.
	Address string `yaml:"address"`
	// listen.adminAddress: the gRPC admin API (joining channels, ...).
	// Mutual TLS; see AdminConfig. Required.
	AdminAddress string `yaml:"adminAddress"`
	// listen.operationsAddress: the HTTP operations endpoint (/metrics,
	// /healthz, /readyz, /version, /logspec). Plain HTTP unless
	// operations.tls; keep it on loopback then. Required.
	OperationsAddress string `yaml:"operationsAddress"`
}

// IdentityConfig is the node's signing identity: it signs endorsements on
// peers and blocks on orderers.
type IdentityConfig struct {
	// identity.certFile: the PEM certificate, whose subject's OU is the
	// node's role. Required.
	CertFile string `yaml:"certFile" chorus:"path"`
	// identity.keyFile: its PEM private key (PKCS#8 or SEC1). Required.
	KeyFile string `yaml:"keyFile" chorus:"path"`
}

// TLSConfig is the node's TLS identity and the CAs it trusts. The TLS
// certificate and key are read again when their files change, so a renewed
// certificate needs no restart.
type TLSConfig struct {
	// tls.certFile: the PEM TLS certificate (followed by its intermediates,
	// if any); its SANs must cover the names and addresses others dial.
	// Required.
	CertFile string `yaml:"certFile" chorus:"path"`
	// tls.keyFile: its PEM private key. Required.
	KeyFile string `yaml:"keyFile" chorus:"path"`
	// tls.rootCAFiles: the CAs of other nodes' TLS certificates: the
	// servers this node dials (orderers, peers) and the nodes that dial it.
	RootCAFiles []string `yaml:"rootCAFiles" chorus:"path"`
	// tls.clientRootCAFiles: the CAs of clients' TLS certificates. The
	// client port verifies a certificate a client presents against these
	// and rootCAFiles together (other nodes are clients of it too).
	ClientRootCAFiles []string `yaml:"clientRootCAFiles" chorus:"path"`
}

// AdminConfig says who may use the admin API: a client whose TLS
// certificate chains to one of ClientRootCAFiles and whose subject carries
// OU=admin (AdminOU). Admin CAs are separate from tls.clientRootCAFiles,
// which usually hold the CAs of every organization: an admin of another
// organization must not administer this node.
type AdminConfig struct {
	// admin.clientRootCAFiles: the CAs of the administrators' certificates,
	// usually the node's own organization's CA. Required.
	ClientRootCAFiles []string `yaml:"clientRootCAFiles" chorus:"path"`
}

// OperationsConfig protects the operations endpoint. By default it serves
// plain HTTP, for an address on loopback.
type OperationsConfig struct {
	// operations.tls: serve HTTPS with the node's TLS certificate.
	TLS bool `yaml:"tls"`
	// operations.clientRootCAFiles: when set (with operations.tls), require
	// client certificates that chain to these CAs.
	ClientRootCAFiles []string `yaml:"clientRootCAFiles" chorus:"path"`
	// operations.profiling: serve Go's profiler at /debug/pprof/. Off by
	// default: profiles expose the process's internals.
	Profiling bool `yaml:"profiling"`
}

// LogConfig is how the node logs.
type LogConfig struct {
	// log.level: debug, info, warn or error; changeable at run time through
	// /logspec. Default info.
	Level string `yaml:"level"`
	// log.format: json, text, or auto (text on a terminal, else JSON).
	// Default auto.
	Format string `yaml:"format"`
}

// StorageConfig tunes the node's database (Pebble).
type StorageConfig struct {
	// storage.cacheMiB: the block cache, in MiB, shared by every channel's
	// ledger and state. Point reads of state and transaction ids hit it;
	// too small a cache makes each one read the disk. Default 256.
	CacheMiB int `yaml:"cacheMiB"`
	// storage.memTableMiB: the size of Pebble's memtable, in MiB. Writes
	// gather there before they are flushed to sorted files. On an orderer
	// a large one lets Raft log entries, deleted after each snapshot, die
	// in memory; on a peer every point read that misses (a new
	// transaction id, a new key) walks it, so a smaller one reads faster.
	// Default (0): 64 on an orderer, 8 on a peer (docs/performance.md).
	MemTableMiB int `yaml:"memTableMiB"`
}

// memTableBytes is storage.memTableMiB in bytes, or the role's default.
func (s StorageConfig) memTableBytes(role Role) uint64 {
	mib := s.MemTableMiB
	if mib == 0 {
		mib = 64
		if role == RolePeer {
			mib = 8
		}
	}
	return uint64(mib) << 20
}

// OrdererConfig is the settings of an orderer.
type OrdererConfig struct {
	// orderer.maxInflightPerStream: envelopes of one Broadcast stream
	// admitted but not yet answered; beyond it the stream waits. Default
	// 1000.
	MaxInflightPerStream int `yaml:"maxInflightPerStream"`
	// orderer.maxInflightTotal: the same over all streams; beyond it new
	// envelopes are refused with SERVICE_UNAVAILABLE. Default 20000.
	MaxInflightTotal int `yaml:"maxInflightTotal"`
	// orderer.broadcastTimeout: how long an envelope may wait for its block
	// to be committed before Broadcast answers that it timed out. Default
	// 30s.
	BroadcastTimeout time.Duration `yaml:"broadcastTimeout"`
	// orderer.clusterDialTimeout: the bound on each attempt to connect
	// (TCP and TLS) to another orderer, for consensus and for catching
	// up; gRPC allows an attempt at least 1 s. Default 10s.
	ClusterDialTimeout time.Duration `yaml:"clusterDialTimeout"`
	// orderer.leaderFollowsSubmissions: a Raft leader hands leadership to
	// the orderer through which at least two thirds of a busy channel's
	// envelopes arrive, 6 s in a row, so that they need not be forwarded
	// to it. Default true; false keeps leadership where elections put it.
	LeaderFollowsSubmissions bool `yaml:"leaderFollowsSubmissions"`
}

// PeerConfig is the settings of a peer.
type PeerConfig struct {
	// peer.gatewayConcurrency: Gateway requests served at once; beyond it
	// requests are refused with RESOURCE_EXHAUSTED. Default 5000.
	GatewayConcurrency int `yaml:"gatewayConcurrency"`
	// peer.endorseTimeout: how long the Gateway waits for another
	// organization's peer to answer one proposal. A peer that does not
	// answer in time counts as unreachable: the Gateway plans the
	// endorsement again without its organization when the policy allows.
	// Default 30s.
	EndorseTimeout time.Duration `yaml:"endorseTimeout"`
	// peer.commitStatusTimeout: how long CommitStatus waits for a
	// transaction to commit when the client set no earlier deadline.
	// Default 2m.
	CommitStatusTimeout time.Duration `yaml:"commitStatusTimeout"`
	// peer.broadcastTimeout: how long the Gateway waits for one orderer
	// to answer a submitted transaction before it takes the orderer for
	// hung and submits to the next one. Default 10s.
	BroadcastTimeout time.Duration `yaml:"broadcastTimeout"`
	// peer.contractMemoryReset: how a contract instance's memory returns
	// to its initial state between invocations (ADR 0006). "auto" restores
	// the pages the kernel saw written where Linux can tell (6.7 and
	// later), and compares every page elsewhere; "compare" always compares
	// every page. Both give the same results; auto is faster. Default auto.
	ContractMemoryReset string `yaml:"contractMemoryReset"`
}

// The values of peer.contractMemoryReset.
const (
	ContractMemoryResetAuto    = "auto"
	ContractMemoryResetCompare = "compare"
)

// Default returns the configuration that fields absent from the file and
// the environment take. Its required fields (role, name, mspID, dataDir,
// addresses, files) are empty, so it is not valid by itself.
func Default() *Config {
	return &Config{
		Log:     LogConfig{Level: "info", Format: LogAuto},
		Storage: StorageConfig{CacheMiB: 256},
		Orderer: OrdererConfig{
			MaxInflightPerStream: 1000,
			MaxInflightTotal:     20000,
			BroadcastTimeout:     30 * time.Second,
			ClusterDialTimeout:   10 * time.Second,

			LeaderFollowsSubmissions: true,
		},
		Peer: PeerConfig{
			GatewayConcurrency:  5000,
			EndorseTimeout:      30 * time.Second,
			CommitStatusTimeout: 2 * time.Minute,
			BroadcastTimeout:    10 * time.Second,
			ContractMemoryReset: ContractMemoryResetAuto,
		},
	}
}

// LoadConfig reads the configuration file at path over Default, applies
// the CHORUS_* variables of env (os.Environ() in production; a list of
// "KEY=value" in tests), resolves relative paths and validates the result.
// Every problem found is reported at once, in a *ConfigError whose lines
// each name a field path.
func LoadConfig(path string, env []string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("node: config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("node: config: %w", err)
	}
	doc, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("node: config %s: %w", abs, err)
	}
	cfg := Default()
	cfg.origins = make(map[string]string)
	d := &decoder{origins: cfg.origins}
	if doc != nil {
		d.value(doc, cfgValue(cfg), "")
	}
	resolvePaths(cfg, filepath.Dir(abs), func(string) bool { return true })
	errs := d.errs
	errs = append(errs, applyEnv(cfg, env)...)
	errs = append(errs, cfg.checkSections()...)
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return nil, &ConfigError{File: abs, Fields: errs}
	}
	return cfg, nil
}

// parseYAML returns the one document of data, or nil if data holds none.
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("more than one YAML document (line %d)", more.Line)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// checkSections refuses a section of the other role in the file: a sign of
// the wrong file, or of settings that silently do nothing.
func (c *Config) checkSections() []*FieldError {
	var errs []*FieldError
	for _, s := range []struct {
		section string
		role    Role
	}{{"orderer", RoleOrderer}, {"peer", RolePeer}} {
		if origin, ok := c.origins[s.section]; ok && c.Role != s.role && c.isRole() {
			errs = append(errs, &FieldError{Path: s.section, Origin: origin,
				Err: fmt.Errorf("settings of role %s, but role is %s", s.role, c.Role)})
		}
	}
	return errs
}

func (c *Config) isRole() bool { return c.Role == RoleOrderer || c.Role == RolePeer }

// Validate checks the configuration: required fields, addresses, values in
// range, and the files it names — readable, holding certificates, each key
// matching its certificate, the signing certificate carrying the role's OU
// and no certificate expired. It returns nil or a *ConfigError.
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return &ConfigError{Fields: errs}
	}
	return nil
}

// ClientPortCAFiles returns the CA files against which the client port
// verifies a client certificate: tls.rootCAFiles (other nodes) and
// tls.clientRootCAFiles (clients).
func (c *Config) ClientPortCAFiles() []string {
	return slices.Concat(c.TLS.RootCAFiles, c.TLS.ClientRootCAFiles)
}

// CertificateFiles returns every certificate file of the configuration by
// a name for the expiry metrics: "signing", "tls", and each CA file as
// "tls-root-ca-0", "tls-client-root-ca-0", "admin-client-root-ca-0",
// "operations-client-root-ca-0", ...
func (c *Config) CertificateFiles() map[string]string {
	files := map[string]string{}
	if c.Identity.CertFile != "" {
		files["signing"] = c.Identity.CertFile
	}
	if c.TLS.CertFile != "" {
		files["tls"] = c.TLS.CertFile
	}
	for prefix, list := range map[string][]string{
		"tls-root-ca":               c.TLS.RootCAFiles,
		"tls-client-root-ca":        c.TLS.ClientRootCAFiles,
		"admin-client-root-ca":      c.Admin.ClientRootCAFiles,
		"operations-client-root-ca": c.Operations.ClientRootCAFiles,
	} {
		for i, f := range list {
			files[prefix+"-"+strconv.Itoa(i)] = f
		}
	}
	return files
}

// validator collects the field errors of one configuration.
type validator struct {
	c    *Config
	errs []*FieldError
	now  time.Time
}

func (v *validator) fail(path string, format string, args ...any) {
	v.failErr(path, fmt.Errorf(format, args...))
}

func (v *validator) failErr(path string, err error) {
	origin := v.c.origins[path]
	if i := strings.LastIndexByte(path, '['); origin == "" && i > 0 {
		origin = v.c.origins[path[:i]] // an element of a list set as a whole
	}
	v.errs = append(v.errs, &FieldError{Path: path, Origin: origin, Err: err})
}

func (c *Config) validate() []*FieldError {
	v := &validator{c: c, now: time.Now()}
	switch c.Role {
	case RoleOrderer, RolePeer:
	case "":
		v.fail("role", "required (orderer or peer)")
	default:
		v.fail("role", "%q is not a role (want orderer or peer)", string(c.Role))
	}
	v.name("name", c.Name)
	v.name("mspID", c.MSPID)
	v.dataDir()
	v.addresses()
	v.signingIdentity()
	v.tlsIdentity()
	v.caFiles("tls.rootCAFiles", c.TLS.RootCAFiles, false)
	v.caFiles("tls.clientRootCAFiles", c.TLS.ClientRootCAFiles, false)
	v.caFiles("admin.clientRootCAFiles", c.Admin.ClientRootCAFiles, true)
	v.caFiles("operations.clientRootCAFiles", c.Operations.ClientRootCAFiles, false)
	if len(c.Operations.ClientRootCAFiles) > 0 && !c.Operations.TLS {
		v.fail("operations.clientRootCAFiles", "client certificates need operations.tls: true")
	}
	if _, err := ops.ParseLevel(c.Log.Level); err != nil {
		v.failErr("log.level", err)
	}
	switch c.Log.Format {
	case LogJSON, LogText, LogAuto:
	default:
		v.fail("log.format", "%q is not a log format (want json, text or auto)", c.Log.Format)
	}
	v.positive("storage.cacheMiB", c.Storage.CacheMiB)
	if c.Storage.MemTableMiB < 0 || c.Storage.MemTableMiB >= 4096 {
		v.fail("storage.memTableMiB", "must be from 0 (the role's default) to 4095, got %d", c.Storage.MemTableMiB)
	}
	switch c.Role {
	case RoleOrderer:
		o := c.Orderer
		v.positive("orderer.maxInflightPerStream", o.MaxInflightPerStream)
		v.positive("orderer.maxInflightTotal", o.MaxInflightTotal)
		if o.MaxInflightPerStream > o.MaxInflightTotal && o.MaxInflightTotal > 0 {
			v.fail("orderer.maxInflightPerStream", "%d is more than orderer.maxInflightTotal (%d)",
				o.MaxInflightPerStream, o.MaxInflightTotal)
		}
		v.positiveDuration("orderer.broadcastTimeout", o.BroadcastTimeout)
		v.positiveDuration("orderer.clusterDialTimeout", o.ClusterDialTimeout)
	case RolePeer:
		p := c.Peer
		v.positive("peer.gatewayConcurrency", p.GatewayConcurrency)
		v.positiveDuration("peer.endorseTimeout", p.EndorseTimeout)
		v.positiveDuration("peer.commitStatusTimeout", p.CommitStatusTimeout)
		v.positiveDuration("peer.broadcastTimeout", p.BroadcastTimeout)
		if r := p.ContractMemoryReset; r != ContractMemoryResetAuto && r != ContractMemoryResetCompare {
			v.fail("peer.contractMemoryReset", "%q is not a reset mode (want %s or %s)", r, ContractMemoryResetAuto, ContractMemoryResetCompare)
		}
	}
	return v.errs
}

// name checks a required name: printable, without spaces.
func (v *validator) name(path, s string) {
	if s == "" {
		v.fail(path, "required")
		return
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }); i >= 0 {
		v.fail(path, "%q contains a space or a control character", s)
	}
}

func (v *validator) dataDir() {
	dir := v.c.DataDir
	if dir == "" {
		v.fail("dataDir", "required")
		return
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Created at start.
	case err != nil:
		v.failErr("dataDir", err)
	case !fi.IsDir():
		v.fail("dataDir", "%s is not a directory", dir)
	}
}

// addresses checks the three listen addresses and that no two share a port.
func (v *validator) addresses() {
	type hostPort struct{ path, host, port string }
	var seen []hostPort
	for _, a := range []struct{ path, addr string }{
		{"listen.address", v.c.Listen.Address},
		{"listen.adminAddress", v.c.Listen.AdminAddress},
		{"listen.operationsAddress", v.c.Listen.OperationsAddress},
	} {
		if a.addr == "" {
			v.fail(a.path, "required (host:port)")
			continue
		}
		host, port, err := splitAddress(a.addr)
		if err != nil {
			v.failErr(a.path, err)
			continue
		}
		for _, s := range seen {
			if port != "0" && port == s.port && (host == s.host || isWildcard(host) || isWildcard(s.host)) {
				v.fail(a.path, "port %s is already listen.%s", port, strings.TrimPrefix(s.path, "listen."))
			}
		}
		seen = append(seen, hostPort{a.path, host, port})
	}
}

// splitAddress checks a host:port address.
func splitAddress(addr string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok {
			return "", "", fmt.Errorf("%s %q", ae.Err, ae.Addr)
		}
		return "", "", err
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", "", fmt.Errorf("port %q in %q is not a number from 0 to 65535", port, addr)
	}
	return host, port, nil
}

func isWildcard(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// readFile reads the required file of a field, or records why not.
func (v *validator) readFile(path, file string) []byte {
	if file == "" {
		v.fail(path, "required")
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		v.failErr(path, err)
		return nil
	}
	return data
}

// notExpired records a certificate that is past its NotAfter.
func (v *validator) notExpired(path string, cert *x509.Certificate) bool {
	if v.now.After(cert.NotAfter) {
		v.fail(path, "certificate %s expired at %s", cert.Subject, cert.NotAfter.UTC().Format(time.RFC3339))
		return false
	}
	return true
}

func (v *validator) signingIdentity() {
	c := v.c
	certPEM := v.readFile("identity.certFile", c.Identity.CertFile)
	keyPEM := v.readFile("identity.keyFile", c.Identity.KeyFile)
	if certPEM == nil {
		return
	}
	cert, err := identity.ParseCertificatePEM(certPEM)
	if err != nil {
		v.failErr("identity.certFile", err)
		return
	}
	v.notExpired("identity.certFile", cert)
	if c.isRole() && !slices.Contains(cert.Subject.OrganizationalUnit, string(c.Role)) {
		v.fail("identity.certFile", "certificate %s has OU %q; the signing certificate of a node with role %s needs OU=%s",
			cert.Subject, cert.Subject.OrganizationalUnit, c.Role, c.Role)
	}
	if keyPEM == nil {
		return
	}
	mspID := c.MSPID
	if mspID == "" {
		mspID = "unset" // reported under mspID; still check the key
	}
	if _, err := identity.LoadSigningIdentity(mspID, certPEM, keyPEM); err != nil {
		v.failErr("identity.keyFile", err)
	}
}

func (v *validator) tlsIdentity() {
	c := v.c
	certPEM := v.readFile("tls.certFile", c.TLS.CertFile)
	keyPEM := v.readFile("tls.keyFile", c.TLS.KeyFile)
	if certPEM == nil {
		return
	}
	certs, err := pemparse.Certificates(certPEM)
	if err != nil {
		v.failErr("tls.certFile", err)
		return
	}
	v.notExpired("tls.certFile", certs[0])
	if keyPEM == nil {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		v.failErr("tls.keyFile", err)
	}
}

// caFiles checks a list of CA files: each must hold certificates, none
// expired.
func (v *validator) caFiles(path string, files []string, required bool) {
	if len(files) == 0 {
		if required {
			v.fail(path, "required (a list of PEM CA files)")
		}
		return
	}
	for i, f := range files {
		p := fmt.Sprintf("%s[%d]", path, i)
		data := v.readFile(p, f)
		if data == nil {
			continue
		}
		certs, err := pemparse.Certificates(data)
		if err != nil {
			v.failErr(p, fmt.Errorf("%s: %w", f, err))
			continue
		}
		for _, cert := range certs {
			if !v.notExpired(p, cert) {
				break
			}
		}
	}
}

func (v *validator) positive(path string, n int) {
	if n <= 0 {
		v.fail(path, "%d is not positive", n)
	}
}

func (v *validator) positiveDuration(path string, d time.Duration) {
	if d <= 0 {
		v.fail(path, "%v is not positive", d)
	}
}

// FieldError is a problem with one field of the configuration.
type FieldError struct {
	// Path is the field's YAML path, such as "listen.address" or
	// "tls.rootCAFiles[1]", or the environment variable for a CHORUS_*
	// variable that names no field.
	Path string
	// Origin is where the value came from: "line 4" of the file, or
	// "CHORUS_LISTEN_ADDRESS"; empty for a default or a value set in code.
	Origin string
	// Err says what is wrong.
	Err error
}

// Error formats the problem as `listen.address: missing port in address
// "localhost" (line 4)`.
func (e *FieldError) Error() string {
	s := e.Path + ": " + e.Err.Error()
	if e.Origin != "" {
		s += " (" + e.Origin + ")"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// ConfigError is every problem found in a configuration.
type ConfigError struct {
	// File is the configuration file's absolute path; empty when Validate
	// checked a Config built in code.
	File string
	// Fields is the problems, in the order of the file's fields.
	Fields []*FieldError
}

// Error formats one problem on one line, and several one per line:
//
//	node: config /etc/chorus/orderer.yaml: listen.address: missing port in address "localhost" (line 4)
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("node: config")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if len(e.Fields) == 1 {
		b.WriteString(": " + e.Fields[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Fields))
	for _, f := range e.Fields {
		b.WriteString("\n\t" + f.Error())
	}
	return b.String()
}

// Unwrap returns the field errors, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}

// Field returns the first problem of the field at path, or nil.
func (e *ConfigError) Field(path string) *FieldError {
	for _, f := range e.Fields {
		if f.Path == path {
			return f
		}
	}
	return nil
}
