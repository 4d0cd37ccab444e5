package channelconfig

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// TestValidate breaks a valid configuration one way at a time and expects
// Validate to say where.
func TestValidate(t *testing.T) {
	full := fixtureConfig(t, "good/full.yaml")
	p := pki(t)
	for _, tc := range []struct {
		name   string
		mutate func(c *configpb.ChannelConfig)
		want   []string
	}{
		{"newer format", func(c *configpb.ChannelConfig) { c.FormatVersion = FormatVersion + 1 },
			[]string{"formatVersion: format 2 was written by a newer Chorus (this build reads format 1 and older): upgrade this node"}},
		{"no format", func(c *configpb.ChannelConfig) { c.FormatVersion = 0 }, []string{"formatVersion: missing (want 1)"}},
		{"unknown field", func(c *configpb.ChannelConfig) {
			c.Batch.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))
		}, []string{"batch: holds fields this build does not know"}},
		{"channel id too long", func(c *configpb.ChannelConfig) { c.ChannelId = "a" + strings.Repeat("b", MaxChannelIDLength) },
			[]string{"name: 250 characters, more than the 249"}},
		{"channel id missing", func(c *configpb.ChannelConfig) { c.ChannelId = "" }, []string{"name: missing"}},
		{"channel id upper case", func(c *configpb.ChannelConfig) { c.ChannelId = "myChannel" }, []string{`name: "myChannel": invalid character 'C'`}},
		{"bad MSP id", func(c *configpb.ChannelConfig) { c.Organizations[1].MspId = "Org 2" },
			[]string{`organizations[1].mspID: "Org 2": invalid character ' '`,
				// Consequences, true ones: policies name an organization that is gone.
				"policies.Audit: names Org2MSP, not an organization of the channel",
				"policies.Endorsement: names Org2MSP"}},
		{"duplicate MSP id", func(c *configpb.ChannelConfig) { c.Organizations[1].MspId = "Org1MSP" },
			[]string{"organizations[1].mspID: Org1MSP is also the MSP id of organizations[0]",
				"policies.Audit: names Org2MSP", "policies.Endorsement: names Org2MSP"}},
		{"no root", func(c *configpb.ChannelConfig) { c.Organizations[1].RootCerts = nil }, []string{"organizations[1].rootCerts: none"}},
		{"root not PEM", func(c *configpb.ChannelConfig) { c.Organizations[0].RootCerts[0] = []byte("junk") },
			[]string{"organizations[0].rootCerts[0]: no PEM certificate found"}},
		{"TLS root not a CA", func(c *configpb.ChannelConfig) { c.Organizations[0].TlsRootCerts[0] = p.files["crypto/bad/leaf.pem"] },
			[]string{`organizations[0].tlsRootCerts[0]: certificate "CN=client.org1" is not a CA certificate`}},
		{"CRL not PEM", func(c *configpb.ChannelConfig) { c.Organizations[0].Crls[0] = []byte("junk") },
			[]string{`organizations[0].crls[0]: no PEM block (want an "X509 CRL")`}},
		{"CRL is a certificate", func(c *configpb.ChannelConfig) { c.Organizations[0].Crls[0] = p.files["crypto/org1/ca.pem"] },
			[]string{`organizations[0].crls[0]: PEM block 1 is "CERTIFICATE", want "X509 CRL"`}},
		{"implicit organization policy", func(c *configpb.ChannelConfig) {
			c.Organizations[0].Policies["Admins"] = c.Policies["Admins"]
		}, []string{"organizations[0].policies.Admins: an organization's policies must be signature policies"}},
		{"no consensus", func(c *configpb.ChannelConfig) { c.Consensus = nil }, []string{"consensus: missing"}},
		{"no consensus type", func(c *configpb.ChannelConfig) { c.Consensus.Type = "" }, []string{"consensus.type: missing (want raft)"}},
		{"consenter id at next", func(c *configpb.ChannelConfig) { c.Consensus.NextConsenterId = 5 },
			[]string{"consensus.nextConsenterID: 5 is not above the largest consenter id, 5"}},
		{"consenter without TLS certificate", func(c *configpb.ChannelConfig) { c.Consensus.Consenters[1].TlsCert = nil },
			[]string{"consensus.consenters[1].tlsCert: missing"}},
		{"consenter with two signing certificates", func(c *configpb.ChannelConfig) {
			c.Consensus.Consenters[0].SigningCert = append(p.files["crypto/orderer/o1-sign.pem"], p.files["crypto/orderer/o2-sign.pem"]...)
		}, []string{"consensus.consenters[0].signingCert: 2 certificates, want exactly one"}},
		{"no raft options", func(c *configpb.ChannelConfig) { c.Consensus.Raft = nil }, []string{"consensus.raft: missing"}},
		{"zero raft options", func(c *configpb.ChannelConfig) { c.Consensus.Raft = &configpb.RaftOptions{} }, []string{
			"consensus.raft.tickInterval: must be positive",
			"consensus.raft.heartbeatTick: must be positive",
			"consensus.raft.electionTick: 0 must be greater than heartbeatTick (0)",
			"consensus.raft.maxInflightBlocks: must be positive",
			"consensus.raft.snapshotIntervalBytes: must be positive",
		}},
		{"no batch", func(c *configpb.ChannelConfig) { c.Batch = nil }, []string{"batch: missing"}},
		{"zero batch", func(c *configpb.ChannelConfig) { c.Batch = &configpb.BatchConfig{} }, []string{
			"batch.maxMessageCount: must be positive",
			"batch.absoluteMaxBytes: must be positive",
			"batch.preferredMaxBytes: must be positive",
			"batch.timeout: must be positive",
		}},
		{"preferred above absolute", func(c *configpb.ChannelConfig) { c.Batch.PreferredMaxBytes = c.Batch.AbsoluteMaxBytes + 1 },
			[]string{"batch.preferredMaxBytes: 8388609 bytes exceeds absoluteMaxBytes (8 MiB)"}},
		{"missing policies", func(c *configpb.ChannelConfig) {
			delete(c.Policies, "Readers")
			delete(c.Policies, "LifecycleEndorsement")
		}, []string{
			"policies.Readers: missing (a channel needs Readers, Writers, Admins, BlockValidation, Endorsement, LifecycleEndorsement)",
			"policies.LifecycleEndorsement: missing",
		}},
		{"empty policy", func(c *configpb.ChannelConfig) { c.Policies["Writers"] = &configpb.Policy{} },
			[]string{"policies.Writers: empty policy"}},
		{"non-canonical policy", func(c *configpb.ChannelConfig) {
			c.Policies["Endorsement"] = &configpb.Policy{Rule: &configpb.Policy_Signature{Signature: "and('Org1MSP.peer', 'Org2MSP.peer')"}}
		}, []string{`policies.Endorsement: "and('Org1MSP.peer', 'Org2MSP.peer')" is not in canonical form (want "AND('Org1MSP.peer','Org2MSP.peer')")`}},
		{"unknown implicit scope", func(c *configpb.ChannelConfig) { c.Policies["Readers"].GetImplicit().Scope = 7 },
			[]string{"policies.Readers: ANY Readers: unknown scope 7"}},
		{"implicit over no organizations", func(c *configpb.ChannelConfig) {
			c.Organizations = nil
			c.Policies = map[string]*configpb.Policy{
				"Readers": c.Policies["Readers"], "Writers": c.Policies["Writers"], "Admins": c.Policies["Admins"],
				"BlockValidation": c.Policies["BlockValidation"],
			}
		}, []string{"policies.Admins: MAJORITY Admins: no organizations in scope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := proto.CloneOf(full)
			tc.mutate(c)
			err := Validate(c)
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Errorf("error %T is not an *InvalidError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), "channel configuration: ") || !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if len(invalid.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(invalid.Problems), len(tc.want), err)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(nil); err == nil || err.Error() != "channelconfig: channel configuration: no configuration" {
		t.Errorf("Validate(nil) = %v", err)
	}
}

// TestValidateOrdererOnly checks the policies a channel without
// application organizations needs.
func TestValidateOrdererOnly(t *testing.T) {
	cfg := fixtureConfig(t, "good/orderer-only.yaml")
	if err := Validate(cfg); err != nil {
		t.Fatal(err)
	}
	delete(cfg.Policies, "Admins")
	if err := Validate(cfg); err == nil || !strings.Contains(err.Error(), "policies.Admins: missing (a channel needs Readers, Writers, Admins, BlockValidation)") {
		t.Errorf("Validate without Admins = %v", err)
	}
}

func TestCheckChannelID(t *testing.T) {
	for _, ok := range []string{"mychannel", "a", "a-b.c-9", "a" + strings.Repeat("0", MaxChannelIDLength-1)} {
		if err := checkChannelID(ok); err != nil {
			t.Errorf("checkChannelID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "9a", "-a", ".a", "aB", "a_b", "a b", "a/b", "é", "a" + strings.Repeat("0", MaxChannelIDLength)} {
		if err := checkChannelID(bad); err == nil {
			t.Errorf("checkChannelID(%q) accepted it", bad)
		}
	}
}
