package channelconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// fixtureNames lists the YAML files of testdata/<dir>.
func fixtureNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	for i, n := range names {
		names[i] = dir + "/" + filepath.Base(n)
	}
	return names
}

// TestGoodDefinitions loads every good fixture and takes its configuration
// around every conversion: genesis block and back, definition YAML and
// back, and into a Bundle.
func TestGoodDefinitions(t *testing.T) {
	for _, name := range fixtureNames(t, "good") {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".yaml"), func(t *testing.T) {
			cfg := fixtureConfig(t, name)
			if err := Validate(cfg); err != nil {
				t.Fatalf("Validate: %v", err)
			}

			block, err := GenesisBlock(cfg)
			if err != nil {
				t.Fatalf("GenesisBlock: %v", err)
			}
			raw, err := proto.Marshal(block)
			if err != nil {
				t.Fatal(err)
			}
			decoded := &commonpb.Block{}
			if err := proto.Unmarshal(raw, decoded); err != nil {
				t.Fatal(err)
			}
			if !IsConfigBlock(decoded) {
				t.Error("IsConfigBlock(genesis block) = false")
			}
			fromBlock, err := ConfigFromBlock(decoded)
			if err != nil {
				t.Fatalf("ConfigFromBlock: %v", err)
			}
			if !proto.Equal(cfg, fromBlock) {
				t.Errorf("configuration changed through the genesis block:\n got %v\nwant %v", fromBlock, cfg)
			}

			yml, err := DefinitionFromConfig(cfg).Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			def, err := ParseDefinition(yml, t.TempDir())
			if err != nil {
				t.Fatalf("ParseDefinition(DefinitionFromConfig(cfg).Marshal()): %v\n%s", err, yml)
			}
			again, err := def.Config()
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(cfg, again) {
				t.Errorf("configuration changed through YAML:\n got %v\nwant %v\nYAML:\n%s", again, cfg, yml)
			}
			defBlock, err := def.GenesisBlock()
			if err != nil {
				t.Fatalf("Definition.GenesisBlock: %v", err)
			}
			if fromDef, err := ConfigFromBlock(defBlock); err != nil || !proto.Equal(cfg, fromDef) {
				t.Errorf("Definition.GenesisBlock's configuration: %v\n got %v\nwant %v", err, fromDef, cfg)
			}

			if _, err := NewBundle(cfg, BundleOptions{}); err != nil {
				t.Errorf("NewBundle: %v", err)
			}
		})
	}
}

// TestDefinitionGenesisBlockValidates checks that a definition's genesis
// block is refused as its configuration is, with the error naming the
// field.
func TestDefinitionGenesisBlockValidates(t *testing.T) {
	_, err := (&Definition{Name: "Not A Channel"}).GenesisBlock()
	var invalid *InvalidError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("GenesisBlock of an invalid definition: %v", err)
	}
}

// TestBadDefinitions loads every bad fixture and expects the errors its
// "# error: " lines give, each naming the field.
func TestBadDefinitions(t *testing.T) {
	for _, name := range fixtureNames(t, "bad") {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".yaml"), func(t *testing.T) {
			text := readFixture(t, name)
			want := expectedErrors(text)
			if len(want) == 0 {
				t.Fatalf("%s has no \"# error: \" line", name)
			}
			_, err := loadFixture(t, name)
			if err == nil {
				t.Fatal("LoadDefinition succeeded")
			}
			t.Log(err)
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Errorf("error %T is not an *InvalidError: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "channelconfig: ") {
				t.Errorf("error lacks the package prefix: %v", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	if cfg.GetFormatVersion() != FormatVersion || cfg.GetSequence() != 0 || cfg.GetChannelId() != "mychannel" {
		t.Errorf("header fields: version %d, sequence %d, channel %q", cfg.GetFormatVersion(), cfg.GetSequence(), cfg.GetChannelId())
	}
	wantBatch := &configpb.BatchConfig{MaxMessageCount: 500, AbsoluteMaxBytes: 10 << 20, PreferredMaxBytes: 2 << 20, TimeoutMs: 250}
	if !proto.Equal(cfg.GetBatch(), wantBatch) {
		t.Errorf("batch = %v, want %v", cfg.GetBatch(), wantBatch)
	}
	wantRaft := &configpb.RaftOptions{TickIntervalMs: 100, ElectionTick: 20, HeartbeatTick: 2, MaxInflightBlocks: 256, SnapshotIntervalBytes: 16 << 20}
	if !proto.Equal(cfg.GetConsensus().GetRaft(), wantRaft) {
		t.Errorf("raft = %v, want %v", cfg.GetConsensus().GetRaft(), wantRaft)
	}
	if c := cfg.GetConsensus(); c.GetType() != "raft" || c.GetNextConsenterId() != 2 {
		t.Errorf("consensus type %q, next consenter id %d; want raft, 2", c.GetType(), c.GetNextConsenterId())
	}
	implicit := func(rule configpb.ImplicitPolicy_Rule, sub string, scope configpb.ImplicitPolicy_Scope) *configpb.Policy {
		return &configpb.Policy{Rule: &configpb.Policy_Implicit{Implicit: &configpb.ImplicitPolicy{Rule: rule, SubPolicy: sub, Scope: scope}}}
	}
	want := map[string]*configpb.Policy{
		"Readers":              implicit(configpb.ImplicitPolicy_ANY, "Readers", configpb.ImplicitPolicy_CHANNEL),
		"Writers":              implicit(configpb.ImplicitPolicy_ANY, "Writers", configpb.ImplicitPolicy_CHANNEL),
		"Admins":               implicit(configpb.ImplicitPolicy_MAJORITY, "Admins", configpb.ImplicitPolicy_APPLICATION),
		"Endorsement":          implicit(configpb.ImplicitPolicy_MAJORITY, "Endorsement", configpb.ImplicitPolicy_APPLICATION),
		"LifecycleEndorsement": implicit(configpb.ImplicitPolicy_MAJORITY, "Endorsement", configpb.ImplicitPolicy_APPLICATION),
		"BlockValidation":      implicit(configpb.ImplicitPolicy_ANY, "Writers", configpb.ImplicitPolicy_ORDERER),
	}
	if len(cfg.GetPolicies()) != len(want) {
		t.Errorf("%d policies, want %d: %v", len(cfg.GetPolicies()), len(want), cfg.GetPolicies())
	}
	for name, p := range want {
		if !proto.Equal(cfg.GetPolicies()[name], p) {
			t.Errorf("policy %s = %v, want %v", name, cfg.GetPolicies()[name], p)
		}
	}
}

func TestOrdererOnlyDefaults(t *testing.T) {
	cfg := fixtureConfig(t, "good/orderer-only.yaml")
	if _, ok := cfg.GetPolicies()["Endorsement"]; ok {
		t.Error("an orderer-only channel got an Endorsement policy")
	}
	admins := cfg.GetPolicies()["Admins"].GetImplicit()
	if admins.GetScope() != configpb.ImplicitPolicy_ORDERER || admins.GetRule() != configpb.ImplicitPolicy_MAJORITY {
		t.Errorf("Admins = %v, want MAJORITY Admins over the orderer organizations", admins)
	}
}

func TestFullDefinition(t *testing.T) {
	cfg := fixtureConfig(t, "good/full.yaml")
	wantBatch := &configpb.BatchConfig{MaxMessageCount: 1000, AbsoluteMaxBytes: 8 << 20, PreferredMaxBytes: 524288, TimeoutMs: 1000}
	if !proto.Equal(cfg.GetBatch(), wantBatch) {
		t.Errorf("batch = %v, want %v", cfg.GetBatch(), wantBatch)
	}
	wantRaft := &configpb.RaftOptions{TickIntervalMs: 200, ElectionTick: 30, HeartbeatTick: 3, MaxInflightBlocks: 64, SnapshotIntervalBytes: 32 << 20}
	if !proto.Equal(cfg.GetConsensus().GetRaft(), wantRaft) {
		t.Errorf("raft = %v, want %v", cfg.GetConsensus().GetRaft(), wantRaft)
	}
	if got := cfg.GetConsensus().GetNextConsenterId(); got != 7 {
		t.Errorf("next consenter id %d, want 7", got)
	}
	org1 := cfg.GetOrganizations()[0]
	if got := org1.GetPolicies()["Admins"].GetSignature(); got != "OR('Org1MSP.admin','Org1MSP.peer')" {
		t.Errorf("Org1 Admins stored as %q, want the canonical text", got)
	}
	if len(org1.GetIntermediateCerts()) != 1 || len(org1.GetCrls()) != 1 || len(org1.GetTlsRootCerts()) != 1 {
		t.Errorf("Org1 certificates: %d intermediate, %d CRL, %d TLS root", len(org1.GetIntermediateCerts()), len(org1.GetCrls()), len(org1.GetTlsRootCerts()))
	}
	if got := org1.GetGatewayEndpoints()[0]; got.GetHost() != "peer0.org1.example.com" || got.GetPort() != 7451 || got.GetName() != "peer0" {
		t.Errorf("Org1 first Gateway peer = %v", got)
	}
	if got := cfg.GetPolicies()["Audit"].GetSignature(); got != "OR('Org1MSP.member','Org2MSP.admin')" {
		t.Errorf("Audit stored as %q", got)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg := fixtureConfig(t, "good/anchors.yaml")
	org2 := cfg.GetOrganizations()[1]
	if org2.GetMspId() != "Org2MSP" || len(org2.GetRootCerts()) != 1 {
		t.Fatalf("Org2 = %v", org2)
	}
	if gw := org2.GetGatewayEndpoints(); len(gw) != 1 || gw[0].GetHost() != "127.0.0.1" || gw[0].GetPort() != 7461 {
		t.Errorf("Org2 Gateway peers = %v, want the merged 127.0.0.1:7461", gw)
	}
	c2 := cfg.GetConsensus().GetConsenters()[1]
	if c2.GetId() != 2 || c2.GetHost() != "127.0.0.1" || c2.GetPort() != 7412 || c2.GetMspId() != "OrdererMSP" {
		t.Errorf("second consenter = %v", c2)
	}
	if cfg.GetBatch().GetTimeoutMs() != 500 {
		t.Errorf("batch timeout %dms, want 500", cfg.GetBatch().GetTimeoutMs())
	}
}

func TestExtensionKeysAreIgnored(t *testing.T) {
	p := pki(t)
	text := "x-defaults: &d {host: 127.0.0.1}\n" + string(readFixture(t, "good/minimal.yaml"))
	if _, err := LoadDefinition(p.writeDefinition(t, "x", []byte(text))); err != nil {
		t.Fatal(err)
	}
	// Only at the top level.
	text = strings.Replace(string(readFixture(t, "good/minimal.yaml")), "  - mspID: Org1MSP", "  - mspID: Org1MSP\n    x-note: hi", 1)
	if _, err := LoadDefinition(p.writeDefinition(t, "x", []byte(text))); err == nil || !strings.Contains(err.Error(), `organizations[0].x-note: unknown field`) {
		t.Errorf("x- key inside an organization: %v", err)
	}
}

// TestErrorLocations checks how problems are located: file and line for
// LoadDefinition, line for ParseDefinition, field path always, and every
// problem reported rather than the first.
func TestErrorLocations(t *testing.T) {
	p := pki(t)
	text := readFixture(t, "bad/missing-file.yaml")
	path := p.writeDefinition(t, "missing-file", text)

	_, err := LoadDefinition(path)
	if want := path + ":22: consensus.consenters[1].tlsCert: read ./tls.pem: no such file or directory"; err == nil || err.Error() != "channelconfig: "+want {
		t.Errorf("LoadDefinition error:\n got %v\nwant channelconfig: %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not match fs.ErrNotExist: %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "consensus.consenters[1].tlsCert" || fe.Line != 22 {
		t.Errorf("FieldError = %+v", fe)
	}

	_, err = ParseDefinition(p.render(t, "x", text), filepath.Dir(path))
	if want := "channelconfig: channel definition, line 22: consensus.consenters[1].tlsCert: read ./tls.pem: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("ParseDefinition error:\n got %v\nwant %s", err, want)
	}

	// A file that cannot be read does not hide the other problems.
	both := string(text) + "batch:\n  preferredMaxBytes: 20 MiB\n"
	_, err = LoadDefinition(p.writeDefinition(t, "both", []byte(both)))
	for _, want := range []string{": 2 problems:", ":22: consensus.consenters[1].tlsCert: read ./tls.pem", ":24: batch.preferredMaxBytes: 20 MiB exceeds absoluteMaxBytes (10 MiB)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing file and batch limits: error does not say %q:\n%v", want, err)
		}
	}

	// Problems found by Validate carry lines too, and all are reported.
	multi := strings.Replace(string(readFixture(t, "good/minimal.yaml")), "name: mychannel", "name: MyChannel", 1) +
		"batch:\n  preferredMaxBytes: 20 MiB\n"
	_, err = LoadDefinition(p.writeDefinition(t, "multi", []byte(multi)))
	var invalid *InvalidError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
	for _, want := range []string{":2: name: \"MyChannel\" must start", ":18: batch.preferredMaxBytes: 20 MiB exceeds absoluteMaxBytes (10 MiB)", "2 problems:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestConfigOfProgrammaticDefinition(t *testing.T) {
	p := pki(t)
	d := &Definition{
		Name:                 "built",
		OrdererOrganizations: []OrganizationDef{{MSPID: "OrdererMSP", RootCerts: []PEM{{Data: p.files["crypto/orderer/ca.pem"]}}}},
		Consensus: ConsensusDef{Consenters: []ConsenterDef{{
			ID: 3, MSPID: "OrdererMSP", Host: "localhost", Port: 7050,
			SigningCert: PEM{Data: p.files["crypto/orderer/o1-sign.pem"]},
			TLSCert:     PEM{Path: "tls.pem"},
		}}},
		Batch: BatchDef{Timeout: Duration(1500 * time.Microsecond)},
	}
	_, err := d.Config()
	for _, want := range []string{
		"consensus.consenters[0].tlsCert: file tls.pem was not read (use LoadDefinition or ParseDefinition)",
		"batch.timeout: 1.5ms is not a whole number of milliseconds",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	d.Consensus.Consenters[0].TLSCert = PEM{Data: p.files["crypto/orderer/o1-tls.pem"]}
	d.Batch.Timeout = 0
	cfg, err := d.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetConsensus().GetNextConsenterId() != 4 {
		t.Errorf("next consenter id %d, want 4", cfg.GetConsensus().GetNextConsenterId())
	}
}

func TestMarshal(t *testing.T) {
	p := pki(t)
	path := p.writeDefinition(t, "full", readFixture(t, "good/full.yaml"))
	d, err := LoadDefinition(path)
	if err != nil {
		t.Fatal(err)
	}
	// A loaded definition writes the paths it read.
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- crypto/org1/ca.pem\n", "- ./crypto/org1/intermediate.pem\n", "absoluteMaxBytes: 8 MiB\n", "preferredMaxBytes: 512 KiB\n", "timeout: 1s\n", "tickInterval: 200ms\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, out)
		}
	}
	again, err := ParseDefinition(out, filepath.Dir(path))
	if err != nil {
		t.Fatalf("reparse: %v", err)
	}
	c1, _ := d.Config()
	c2, _ := again.Config()
	if !proto.Equal(c1, c2) {
		t.Error("Marshal then ParseDefinition changed the configuration")
	}

	// A definition from a configuration is explicit, with certificates
	// inline as literal blocks.
	out, err = DefinitionFromConfig(c1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"name: assets.prod-2\n",
		"    rootCerts:\n      - |\n        -----BEGIN CERTIFICATE-----\n",
		"  Readers:\n    rule: ANY Readers\n    scope: channel\n",
		"  Admins: MAJORITY Admins\n",
		"  Endorsement: AND('Org1MSP.peer','Org2MSP.peer')\n",
		"  nextConsenterID: 7\n",
		"snapshotIntervalBytes: 32 MiB\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
	}{
		{"0", 0}, {"1048576", MiB}, {"10 MiB", 10 * MiB}, {"2MB", 2 * MiB}, {"512 KB", 512 * KiB},
		{"512k", 512 * KiB}, {"1 GiB", GiB}, {"3gb", 3 * GiB}, {"100 B", 100}, {" 7 mib ", 7 * MiB}, {"1_000", 1000},
	} {
		got, err := ParseByteSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "MiB", "ten", "1.5 MiB", "-1", "10 TiB", "10 MiBs", "99999999999999999999", "18014398509481984 GiB"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
	for s, want := range map[ByteSize]string{10 * MiB: "10 MiB", 512 * KiB: "512 KiB", 3 * GiB: "3 GiB", 1000: "1000 bytes", 0: "0 bytes", MiB + 1: "1048577 bytes"} {
		if got := s.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", uint64(s), got, want)
		}
	}
}

func TestLoadDefinitionFileErrors(t *testing.T) {
	_, err := LoadDefinition(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "channelconfig: ") {
		t.Errorf("missing file: %v", err)
	}
	// A certificate "file" that never ends is cut off.
	if _, err := os.Stat("/dev/zero"); err == nil {
		p := pki(t)
		text := strings.Replace(string(readFixture(t, "good/minimal.yaml")), "crypto/org1/ca.pem", "/dev/zero", 1)
		_, err := LoadDefinition(p.writeDefinition(t, "zero", []byte(text)))
		if err == nil || !strings.Contains(err.Error(), "organizations[0].rootCerts[0]: read /dev/zero: larger than") {
			t.Errorf("/dev/zero as a certificate: %v", err)
		}
	}
}

// TestPEMYAMLRoundTrip checks that PEM text of any shape comes back from
// YAML byte for byte: a configuration's certificates are kept as given.
func TestPEMYAMLRoundTrip(t *testing.T) {
	cert := string(pki(t).files["crypto/org1/ca.pem"])
	for name, data := range map[string]string{
		"plain":               cert,
		"no final newline":    strings.TrimSuffix(cert, "\n"),
		"several newlines":    cert + "\n\n",
		"CRLF":                strings.ReplaceAll(cert, "\n", "\r\n"),
		"leading spaces":      "   " + cert,
		"trailing spaces":     strings.ReplaceAll(cert, "\n", "  \n"),
		"text around":         "subject=CN=ca\n" + cert + "# end\n",
		"two blocks":          cert + cert,
		"tab and control":     "\t" + cert + "\x01",
		"not UTF-8":           cert + "\xff\xfe",
		"one line":            "-----BEGIN CERTIFICATE----- abc -----END CERTIFICATE-----",
		"looks like a number": "-----BEGIN 1-----",
	} {
		t.Run(name, func(t *testing.T) {
			d := &Definition{Name: "x", Consensus: ConsensusDef{Consenters: []ConsenterDef{{TLSCert: PEM{Data: []byte(data)}}}}}
			out, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			root, err := parseYAMLDocument(out)
			if err != nil {
				t.Fatal(err)
			}
			var p problems
			var back Definition
			newNodeDecoder(&p).decodeRoot(root, &back)
			if !p.empty() {
				t.Fatal(p.err(sourceDefinition, false))
			}
			if got := back.Consensus.Consenters[0].TLSCert; string(got.Data) != data || got.Path != "" {
				t.Errorf("got %+v, want %q\nYAML:\n%s", got, data, out)
			}
		})
	}
}

// TestDocumentedExamples decodes the YAML examples of
// docs/channel-definition.md, so that the page does not drift from the
// schema. Their certificate files do not exist; only the structure is
// checked.
func TestDocumentedExamples(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "channel-definition.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(page), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("found %d YAML examples, want at least 2", len(blocks))
	}
	for i, b := range blocks {
		text, _, _ := strings.Cut(b, "```")
		root, err := parseYAMLDocument([]byte(text))
		if err != nil {
			t.Errorf("example %d: %v", i, err)
			continue
		}
		var p problems
		var d Definition
		newNodeDecoder(&p).decodeRoot(root, &d)
		if !p.empty() {
			t.Errorf("example %d: %v", i, p.err(sourceDefinition, false))
		}
	}
}
