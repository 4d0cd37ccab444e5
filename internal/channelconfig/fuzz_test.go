package channelconfig

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// roundTrip checks that a valid configuration survives
// DefinitionFromConfig, Marshal, ParseDefinition and Config unchanged.
func roundTrip(t *testing.T, cfg proto.Message, yml []byte, baseDir string) {
	t.Helper()
	again, err := ParseDefinition(yml, baseDir)
	if err != nil {
		t.Fatalf("reparsing the YAML: %v\n%s", err, yml)
	}
	got, err := again.Config()
	if err != nil {
		t.Fatalf("reparsed definition: %v", err)
	}
	if !proto.Equal(cfg, got) {
		t.Fatalf("configuration changed through YAML:\n got %v\nwant %v\nYAML:\n%s", got, cfg, yml)
	}
}

// FuzzConfigFromBlock feeds arbitrary bytes as a block. ConfigFromBlock must
// never panic, and a configuration it accepts must be valid, come from a
// config block, and print as YAML that parses back to it.
func FuzzConfigFromBlock(f *testing.F) {
	for _, name := range []string{"good/minimal.yaml", "good/full.yaml", "good/orderer-only.yaml"} {
		block, err := GenesisBlock(fixtureConfig(f, name))
		if err != nil {
			f.Fatal(err)
		}
		raw, err := proto.Marshal(block)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		block := &commonpb.Block{}
		if proto.Unmarshal(raw, block) != nil {
			return
		}
		isConfig := IsConfigBlock(block)
		cfg, err := ConfigFromBlock(block)
		if err != nil {
			return
		}
		if !isConfig {
			t.Error("ConfigFromBlock accepted a block IsConfigBlock refuses")
		}
		if err := Validate(cfg); err != nil {
			t.Fatalf("ConfigFromBlock returned an invalid configuration: %v", err)
		}
		yml, err := DefinitionFromConfig(cfg).Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		roundTrip(t, cfg, yml, t.TempDir())
	})
}

// FuzzParseDefinition feeds arbitrary bytes as a YAML definition, in a
// directory holding the test certificates. ParseDefinition must never panic,
// and a definition it accepts must convert and print as YAML that parses
// back to the same configuration.
func FuzzParseDefinition(f *testing.F) {
	p := pki(f)
	dir := f.TempDir()
	p.writeCrypto(f, dir)
	for _, sub := range []string{"good", "bad"} {
		names, err := filepath.Glob(filepath.Join("testdata", sub, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			text, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p.render(f, name, text))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data, dir)
		if err != nil {
			return
		}
		cfg, err := d.Config()
		if err != nil {
			t.Fatalf("ParseDefinition accepted a definition Config refuses: %v", err)
		}
		yml, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		roundTrip(t, cfg, yml, dir)
		yml, err = DefinitionFromConfig(cfg).Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		roundTrip(t, cfg, yml, dir)
	})
}
