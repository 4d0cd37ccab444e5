package node

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
)

// pkiFiles are the files writePKI writes, relative to its directory, as the
// fixtures name them.
var pkiFiles struct {
	once  sync.Once
	files map[string][]byte
	err   error
}

// writePKI writes into dir the certificates and keys the fixtures refer to:
// ca/org.pem and ca/tls.pem (CAs), msp/orderer.{pem,key} and
// msp/peer.{pem,key} (signing identities with OU=orderer and OU=peer),
// tls/server.{pem,key}, tls/other.key (matching nothing), tls/expired.{pem,key}
// and notes.txt (not PEM). They are made once per test binary.
func writePKI(t *testing.T, dir string) {
	t.Helper()
	pkiFiles.once.Do(func() { pkiFiles.files, pkiFiles.err = makePKI() })
	if pkiFiles.err != nil {
		t.Fatal(pkiFiles.err)
	}
	for name, data := range pkiFiles.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func makePKI() (map[string][]byte, error) {
	org, err := identity.NewCA("OrgCA", "OrdererMSP", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	tlsCA, err := identity.NewCA("TLSCA", "OrdererMSP", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca/org.pem": org.CertificatePEM(),
		"ca/tls.pem": tlsCA.CertificatePEM(),
		"notes.txt":  []byte("not a certificate\n"),
	}
	for _, c := range []struct {
		ca       *identity.CA
		cn, base string
		role     identity.Role
		lifetime time.Duration
	}{
		{org, "orderer0", "msp/orderer", identity.RoleOrderer, time.Hour},
		{org, "peer0", "msp/peer", identity.RolePeer, time.Hour},
		{tlsCA, "server", "tls/server", identity.RoleMember, time.Hour},
		{tlsCA, "other", "tls/other", identity.RoleMember, time.Hour},
		{tlsCA, "expired", "tls/expired", identity.RoleMember, time.Nanosecond},
	} {
		certPEM, keyPEM, err := c.ca.Issue(c.cn, c.role, c.lifetime, "127.0.0.1", "localhost")
		if err != nil {
			return nil, err
		}
		files[c.base+".pem"], files[c.base+".key"] = certPEM, keyPEM
	}
	delete(files, "tls/other.pem")
	return files, nil
}

// fixture copies a testdata file into a new directory holding the PKI and
// returns the copy's path.
func fixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writePKI(t, dir)
	path := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGoodOrderer(t *testing.T) {
	path := fixture(t, "good/orderer.yaml")
	dir := filepath.Dir(path)
	cfg, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Role:    RoleOrderer,
		Name:    "orderer0.example.com",
		MSPID:   "OrdererMSP",
		DataDir: filepath.Join(dir, "data"),
		Listen: ListenConfig{
			Address:           "0.0.0.0:7050",
			AdminAddress:      "127.0.0.1:7053",
			OperationsAddress: "127.0.0.1:9443",
		},
		Identity: IdentityConfig{
			CertFile: filepath.Join(dir, "msp/orderer.pem"),
			KeyFile:  filepath.Join(dir, "msp/orderer.key"),
		},
		TLS: TLSConfig{
			CertFile:          filepath.Join(dir, "tls/server.pem"),
			KeyFile:           filepath.Join(dir, "tls/server.key"),
			RootCAFiles:       []string{filepath.Join(dir, "ca/tls.pem")},
			ClientRootCAFiles: []string{filepath.Join(dir, "ca/tls.pem"), filepath.Join(dir, "ca/org.pem")},
		},
		Admin:   AdminConfig{ClientRootCAFiles: []string{filepath.Join(dir, "ca/org.pem")}},
		Log:     LogConfig{Level: "debug", Format: LogJSON},
		Storage: Default().Storage,
		Orderer: OrdererConfig{
			MaxInflightPerStream: 500,
			MaxInflightTotal:     10000,
			BroadcastTimeout:     15 * time.Second,
			ClusterDialTimeout:   5 * time.Second,
			// The file says false; the default is true.
			LeaderFollowsSubmissions: false,
		},
		Peer: Default().Peer,
	}
	want.origins = cfg.origins
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig =\n%+v\nwant\n%+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate of a loaded configuration: %v", err)
	}
	if got := cfg.ClientPortCAFiles(); len(got) != 3 {
		t.Errorf("ClientPortCAFiles = %v, want tls/ca, tls/ca, org", got)
	}
	files := cfg.CertificateFiles()
	if files["signing"] != want.Identity.CertFile || files["tls"] != want.TLS.CertFile ||
		files["tls-client-root-ca-1"] != filepath.Join(dir, "ca/org.pem") || len(files) != 6 {
		t.Errorf("CertificateFiles = %v", files)
	}
}

func TestGoodPeerDefaults(t *testing.T) {
	path := fixture(t, "good/peer.yaml")
	dir := filepath.Dir(path)
	cfg, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/chorus/peer0" {
		t.Errorf("an absolute dataDir changed: %s", cfg.DataDir)
	}
	if cfg.Log != Default().Log {
		t.Errorf("log = %+v, want the default %+v", cfg.Log, Default().Log)
	}
	wantPeer := Default().Peer
	wantPeer.EndorseTimeout = time.Minute
	if cfg.Peer != wantPeer {
		t.Errorf("peer = %+v, want %+v", cfg.Peer, wantPeer)
	}
	tlsCA := []string{filepath.Join(dir, "ca/tls.pem")}
	if !slices.Equal(cfg.Operations.ClientRootCAFiles, tlsCA) || !cfg.Operations.TLS {
		t.Errorf("operations = %+v (through an alias), want TLS and %v", cfg.Operations, tlsCA)
	}
	if cfg.TLS.ClientRootCAFiles != nil {
		t.Errorf("tls.clientRootCAFiles = %v, want none", cfg.TLS.ClientRootCAFiles)
	}
}

// TestBadConfigs loads each fixture of testdata/bad. Each starts with one
// "# error: " line per expected problem, in which "..." stands for any
// text; the problems found must be exactly those.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for line := range strings.Lines(string(data)) {
				if w, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "# error: "); ok {
					wants = append(wants, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("fixture has no # error: line")
			}
			_, err = LoadConfig(fixture(t, "bad/"+name+".yaml"), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "node: config") {
				t.Errorf("error %q does not start with \"node: config\"", err)
			}
			ce, ok := errors.AsType[*ConfigError](err)
			if !ok {
				// Not a field problem (a syntax error): one line.
				if len(wants) != 1 || !matches(err.Error(), wants[0]) {
					t.Errorf("error:\n%v\nwant %q", err, wants)
				}
				return
			}
			var got []string
			for _, fe := range ce.Fields {
				got = append(got, fe.Error())
			}
			for _, w := range wants {
				if !slices.ContainsFunc(got, func(g string) bool { return matches(g, w) }) {
					t.Errorf("no problem matches %q", w)
				}
			}
			if len(got) != len(wants) {
				t.Errorf("%d problems, want %d", len(got), len(wants))
			}
			if t.Failed() {
				t.Logf("problems:\n\t%s", strings.Join(got, "\n\t"))
			}
		})
	}
}

// matches tells whether s contains pattern, where "..." in pattern stands
// for any text.
func matches(s, pattern string) bool {
	parts := strings.Split(pattern, "...")
	for i, p := range parts {
		j := strings.Index(s, p)
		if j < 0 || (i == 0 && len(parts) > 1 && j != 0) {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

func TestEnvOverrides(t *testing.T) {
	path := fixture(t, "good/orderer.yaml")
	dir := filepath.Dir(path)
	env := []string{
		"PATH=/usr/bin",
		"CHORUS_LISTEN_ADDRESS=127.0.0.1:8050",
		"CHORUS_LOG_LEVEL=warn",
		"CHORUS_ORDERER_MAXINFLIGHTTOTAL=30000",
		"CHORUS_ORDERER_BROADCASTTIMEOUT=45s",
		"CHORUS_MSPID=Orderer2MSP",
		"CHORUS_TLS_ROOTCAFILES=" + filepath.Join(dir, "ca/tls.pem") + ", " + filepath.Join(dir, "ca/org.pem"),
		"CHORUS_OPERATIONS_TLS=true",
		"CHORUS_NAME=",         // empty: ignored
		"CHORUS_CONFIG=/x.yml", // not a field, not a section: someone else's
	}
	cfg, err := LoadConfig(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.Address != "127.0.0.1:8050" || cfg.Log.Level != "warn" || cfg.MSPID != "Orderer2MSP" ||
		cfg.Orderer.MaxInflightTotal != 30000 || !cfg.Operations.TLS {
		t.Errorf("environment not applied: %+v", cfg)
	}
	// Precedence: environment over file over default.
	if cfg.Orderer.BroadcastTimeout != 45*time.Second {
		t.Errorf("broadcastTimeout = %v, want 45s from the environment (file 15s, default 30s)", cfg.Orderer.BroadcastTimeout)
	}
	if cfg.Orderer.MaxInflightPerStream != 500 {
		t.Errorf("maxInflightPerStream = %d, want 500 from the file", cfg.Orderer.MaxInflightPerStream)
	}
	if cfg.Name != "orderer0.example.com" {
		t.Errorf("an empty variable changed name to %q", cfg.Name)
	}
	if want := []string{filepath.Join(dir, "ca/tls.pem"), filepath.Join(dir, "ca/org.pem")}; !slices.Equal(cfg.TLS.RootCAFiles, want) {
		t.Errorf("rootCAFiles = %v, want %v", cfg.TLS.RootCAFiles, want)
	}
}

func TestEnvErrors(t *testing.T) {
	path := fixture(t, "good/orderer.yaml")
	_, err := LoadConfig(path, []string{
		"CHORUS_LISTEN_ADDRESS=localhost",
		"CHORUS_ORDERER_MAXINFLIGHTTOTAL=lots",
		"CHORUS_LISTEN_ADRESS=127.0.0.1:1",
		"CHORUS_TLS=on",
	})
	ce, ok := errors.AsType[*ConfigError](err)
	if !ok {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	for path, want := range map[string]string{
		"listen.address":           `listen.address: missing port in address "localhost" (CHORUS_LISTEN_ADDRESS)`,
		"orderer.maxInflightTotal": `orderer.maxInflightTotal: want an integer, got "lots" (CHORUS_ORDERER_MAXINFLIGHTTOTAL)`,
		"CHORUS_LISTEN_ADRESS":     `CHORUS_LISTEN_ADRESS: names no configuration field; did you mean CHORUS_LISTEN_ADDRESS?`,
		"CHORUS_TLS":               `CHORUS_TLS: names no configuration field`,
	} {
		if fe := ce.Field(path); fe == nil || !strings.HasPrefix(fe.Error(), want) {
			t.Errorf("%s: %v, want %s", path, fe, want)
		}
	}
	if len(ce.Fields) != 4 {
		t.Errorf("%d problems, want 4:\n%v", len(ce.Fields), err)
	}
}

// TestRelativePaths loads a configuration from another working directory:
// paths in the file are relative to the file, paths in the environment to
// the working directory.
func TestRelativePaths(t *testing.T) {
	path := fixture(t, "good/orderer.yaml")
	dir := filepath.Dir(path)
	wd := t.TempDir()
	writePKI(t, wd)
	t.Chdir(wd)
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(rel, []string{"CHORUS_IDENTITY_CERTFILE=msp/orderer.pem", "CHORUS_IDENTITY_KEYFILE=msp/orderer.key"})
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		cfg.DataDir:            filepath.Join(dir, "data"),
		cfg.TLS.CertFile:       filepath.Join(dir, "tls/server.pem"),
		cfg.TLS.RootCAFiles[0]: filepath.Join(dir, "ca/tls.pem"),
		cfg.Identity.CertFile:  filepath.Join(wd, "msp/orderer.pem"),
		cfg.Identity.KeyFile:   filepath.Join(wd, "msp/orderer.key"),
	} {
		if got != want {
			t.Errorf("path %s, want %s", got, want)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "node: config: open ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestValidateInCode(t *testing.T) {
	err := Default().Validate()
	ce, ok := errors.AsType[*ConfigError](err)
	if !ok {
		t.Fatalf("Validate(Default()) = %v, want a *ConfigError", err)
	}
	if ce.File != "" || !strings.HasPrefix(err.Error(), "node: config: 12 problems:\n\trole: required") {
		t.Errorf("Validate(Default()) =\n%v", err)
	}
	if fe := ce.Field("listen.address"); fe == nil || fe.Origin != "" {
		t.Errorf("listen.address: %v", fe)
	}
}

// TestSchema checks every configuration field: it has a supported type and
// an environment variable named after its path.
func TestSchema(t *testing.T) {
	var envs []string
	for _, l := range leaves() {
		envs = append(envs, l.env)
		v := cfgValue(Default()).FieldByIndex(l.index)
		if v.Kind() == reflect.Slice {
			if v.Type().Elem().Kind() != reflect.String {
				t.Errorf("%s: unsupported list type %v", l.path, v.Type())
			}
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %v", l.path, p)
				}
			}()
			_ = setScalar(v, "1")
		}()
	}
	for _, want := range []string{
		"CHORUS_ROLE", "CHORUS_MSPID", "CHORUS_DATADIR", "CHORUS_LISTEN_ADDRESS", "CHORUS_LISTEN_ADMINADDRESS",
		"CHORUS_LISTEN_OPERATIONSADDRESS", "CHORUS_IDENTITY_CERTFILE", "CHORUS_TLS_CLIENTROOTCAFILES",
		"CHORUS_ADMIN_CLIENTROOTCAFILES", "CHORUS_OPERATIONS_TLS", "CHORUS_OPERATIONS_PROFILING", "CHORUS_LOG_LEVEL", "CHORUS_LOG_FORMAT",
		"CHORUS_ORDERER_MAXINFLIGHTPERSTREAM", "CHORUS_ORDERER_MAXINFLIGHTTOTAL", "CHORUS_PEER_GATEWAYCONCURRENCY",
		"CHORUS_PEER_COMMITSTATUSTIMEOUT", "CHORUS_STORAGE_CACHEMIB", "CHORUS_STORAGE_MEMTABLEMIB", "CHORUS_PEER_CONTRACTMEMORYRESET",
		"CHORUS_ORDERER_LEADERFOLLOWSSUBMISSIONS", "CHORUS_PEER_BROADCASTTIMEOUT",
	} {
		if !slices.Contains(envs, want) {
			t.Errorf("no field for %s", want)
		}
	}
	if len(envs) != 31 {
		t.Errorf("%d fields: %v", len(envs), envs)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"adress", "address"},
		{"mspid", "mspID"},
		{"clientRootCAFile", "clientRootCAFiles"},
		{"channels", ""},
	} {
		if got := suggest(tc.in, []string{"address", "adminAddress", "mspID", "clientRootCAFiles", "name", "role"}); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMemTableBytes(t *testing.T) {
	for _, tc := range []struct {
		role Role
		mib  int
		want uint64
	}{
		{RolePeer, 0, 8 << 20},
		{RoleOrderer, 0, 64 << 20},
		{RolePeer, 32, 32 << 20},
		{RoleOrderer, 16, 16 << 20},
	} {
		if got := (StorageConfig{MemTableMiB: tc.mib}).memTableBytes(tc.role); got != tc.want {
			t.Errorf("%s with storage.memTableMiB %d: %d bytes, want %d", tc.role, tc.mib, got, tc.want)
		}
	}
	for _, bad := range []int{-1, 4096} {
		c := Default()
		c.Storage.MemTableMiB = bad
		if !slices.ContainsFunc(c.validate(), func(e *FieldError) bool { return e.Path == "storage.memTableMiB" }) {
			t.Fatalf("storage.memTableMiB %d is accepted", bad)
		}
	}
}
