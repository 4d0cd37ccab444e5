package channelconfig

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/policy"
)

// fullBundle returns the Bundle of testdata/good/full.yaml with an extra
// policy, TwoMembers, needing two distinct members of Org1MSP.
func fullBundle(t *testing.T, opts BundleOptions) *Bundle {
	t.Helper()
	cfg := fixtureConfig(t, "good/full.yaml")
	two, err := policy.ParseConfigPolicy("OutOf(2, 'Org1MSP.member', 'Org1MSP.member')")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Policies["TwoMembers"] = two
	b, err := NewBundle(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckSigned(t *testing.T) {
	p := pki(t)
	b := fullBundle(t, BundleOptions{})
	msg := []byte("a transaction")
	org1Client := signed(t, "Org1MSP", p.org1Client, msg)
	org1Peer := signed(t, "Org1MSP", p.org1Peer, msg)
	org2Peer := signed(t, "Org2MSP", p.org2Peer, msg)
	forged := signed(t, "Org1MSP", p.org1Client, []byte("something else"))
	forged.Data = msg
	// The same certificate, with a trailing newline: other identity bytes,
	// the same key.
	respelled := signed(t, "Org1MSP", cred{certPEM: append(slices.Clone(p.org1Client.certPEM), '\n'), keyPEM: p.org1Client.keyPEM}, msg)

	type outcome int
	const (
		ok outcome = iota
		badSignature
		notSatisfied
		unknownPolicy
	)
	for _, tc := range []struct {
		name   string
		policy string
		data   []SignedData
		want   outcome
		is     error    // also matched, when set
		says   []string // in the message
	}{
		{"Org1 client writes", "Writers", []SignedData{org1Client}, ok, nil, nil},
		{"Org2 client writes", "Writers", []SignedData{signed(t, "Org2MSP", p.org2Client, msg)}, ok, nil, nil},
		{"client of an intermediate CA", "Writers", []SignedData{signed(t, "Org1MSP", p.org1Inter, msg)}, ok, nil, nil},
		{"orderer writes", "Writers", []SignedData{signed(t, "OrdererMSP", p.orderer1, msg)}, ok, nil, nil},
		{"orderer validates blocks", "BlockValidation", []SignedData{signed(t, "OrdererMSP", p.orderer1, msg)}, ok, nil, nil},
		{"both peers endorse", "Endorsement", []SignedData{org1Peer, org2Peer}, ok, nil, nil},
		{"two members", "TwoMembers", []SignedData{org1Client, signed(t, "Org1MSP", p.org1Admin, msg)}, ok, nil, nil},

		{"peer does not write", "Writers", []SignedData{org1Peer}, notSatisfied, nil,
			[]string{"channelconfig: policy Writers: ANY Writers not satisfied"}},
		{"missing Org2 under AND", "Endorsement", []SignedData{org1Peer}, notSatisfied, nil,
			[]string{"channelconfig: policy Endorsement: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org2MSP.peer"}},
		{"no signature", "Readers", nil, notSatisfied, nil, []string{"policy Readers: ANY Readers not satisfied"}},
		{"one identity twice", "TwoMembers", []SignedData{org1Client, org1Client}, notSatisfied, nil, nil},
		{"one key in two spellings", "TwoMembers", []SignedData{org1Client, respelled}, notSatisfied, nil, nil},

		{"unknown CA", "Writers", []SignedData{signed(t, "Org1MSP", p.roguePeer, msg)}, badSignature, identity.ErrUnknownCA,
			[]string{"channelconfig: policy Writers: signature 0 (MSP Org1MSP): certificate for CN=peer0.org1 is issued by an unknown CA (CN=ca.rogue), not by a CA of Org1MSP"}},
		{"bad signature", "Writers", []SignedData{org1Client, forged}, badSignature, identity.ErrBadSignature,
			[]string{"channelconfig: policy Writers: signature 1 (MSP Org1MSP): signature of Org1MSP CN=client.org1 (client): signature does not verify"}},
		{"revoked", "Writers", []SignedData{signed(t, "Org1MSP", p.org1Revoked, msg)}, badSignature, identity.ErrRevoked,
			[]string{"signature 0 (MSP Org1MSP): certificate for CN=revoked.org1", "is revoked"}},
		{"unknown MSP", "Writers", []SignedData{signed(t, "OtherMSP", p.org1Client, msg)}, badSignature, identity.ErrUnknownMSP,
			[]string{"signature 0 (MSP OtherMSP): unknown MSP OtherMSP"}},
		{"malformed identity", "Writers", []SignedData{{Data: msg, Identity: []byte{0xff}, Signature: org1Client.Signature}}, badSignature, identity.ErrMalformedIdentity,
			[]string{"signature 0 (unreadable identity): malformed serialized identity"}},
		{"unknown policy", "Nope", []SignedData{org1Client}, unknownPolicy, nil, []string{`channelconfig: unknown policy "Nope" in channel assets.prod-2`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.CheckSigned(tc.policy, tc.data...)
			switch tc.want {
			case ok:
				if err != nil {
					t.Fatalf("CheckSigned: %v", err)
				}
				return
			case badSignature:
				var se *SignatureError
				if !errors.Is(err, ErrBadSignature) || !errors.As(err, &se) || errors.Is(err, ErrPolicyNotSatisfied) {
					t.Errorf("error %T is not a bad signature: %v", err, err)
				}
			case notSatisfied:
				var pe *PolicyError
				var ns *policy.NotSatisfiedError
				if !errors.Is(err, ErrPolicyNotSatisfied) || !errors.As(err, &pe) || !errors.As(err, &ns) || errors.Is(err, ErrBadSignature) {
					t.Errorf("error %T is not an unmet policy: %v", err, err)
				}
			case unknownPolicy:
				if !errors.Is(err, ErrUnknownPolicy) {
					t.Errorf("error is not ErrUnknownPolicy: %v", err)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error does not match %v: %v", tc.is, err)
			}
			for _, s := range tc.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

// TestCheckSignedMissingPrincipal checks that the principal an AND policy
// misses is reachable by programs, not only in the message.
func TestCheckSignedMissingPrincipal(t *testing.T) {
	p := pki(t)
	b := fullBundle(t, BundleOptions{})
	err := b.CheckSigned("Endorsement", signed(t, "Org2MSP", p.org2Peer, []byte("m")))
	var ns *policy.NotSatisfiedError
	if !errors.As(err, &ns) {
		t.Fatalf("no NotSatisfiedError in %v", err)
	}
	want := []policy.Principal{{MSPID: "Org1MSP", Role: identity.RolePeer}}
	if !slices.Equal(ns.Missing, want) {
		t.Errorf("missing %v, want %v", ns.Missing, want)
	}
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Policy != "Endorsement" {
		t.Errorf("PolicyError = %+v", pe)
	}
}

// TestCheckSignedClock checks that the Now hook decides expiry.
func TestCheckSignedClock(t *testing.T) {
	p := pki(t)
	msg := []byte("m")
	short := signed(t, "Org1MSP", p.org1Short, msg) // valid for an hour
	if err := fullBundle(t, BundleOptions{}).CheckSigned("Writers", short); err != nil {
		t.Fatalf("now: %v", err)
	}
	later := time.Now().Add(2 * time.Hour)
	b := fullBundle(t, BundleOptions{Now: func() time.Time { return later }})
	err := b.CheckSigned("Writers", short)
	if !errors.Is(err, identity.ErrExpired) || !errors.Is(err, ErrBadSignature) {
		t.Errorf("two hours later: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "certificate for CN=short.org1 expired at") {
		t.Errorf("message: %v", err)
	}
	if err := b.CheckSigned("Writers", signed(t, "Org1MSP", p.org1Client, msg)); err != nil {
		t.Errorf("a certificate still valid two hours later: %v", err)
	}
}

func TestCheckSignedUsesSignatureCache(t *testing.T) {
	p := pki(t)
	cache := identity.NewSignatureCache(16)
	b := fullBundle(t, BundleOptions{SignatureCache: cache})
	sd := signed(t, "Org1MSP", p.org1Client, []byte("m"))
	for range 3 {
		if err := b.CheckSigned("Writers", sd); err != nil {
			t.Fatal(err)
		}
	}
	if s := cache.Stats(); s.Misses != 1 || s.Hits != 2 {
		t.Errorf("cache stats %+v, want 1 miss and 2 hits", s)
	}
}

func TestBundleAccessors(t *testing.T) {
	b := fullBundle(t, BundleOptions{})
	if b.ChannelID() != "assets.prod-2" || b.Sequence() != 0 || b.ConsensusType() != "raft" {
		t.Errorf("channel %q, sequence %d, consensus %q", b.ChannelID(), b.Sequence(), b.ConsensusType())
	}
	if got := b.Manager().MSPIDs(); !slices.Equal(got, []string{"OrdererMSP", "Org1MSP", "Org2MSP"}) {
		t.Errorf("MSP ids %v", got)
	}
	if got, want := b.Batch(), (BatchConfig{MaxMessageCount: 1000, AbsoluteMaxBytes: 8 << 20, PreferredMaxBytes: 512 << 10, Timeout: time.Second}); got != want {
		t.Errorf("batch %+v, want %+v", got, want)
	}
	if got, want := b.Raft(), (RaftOptions{TickInterval: 200 * time.Millisecond, ElectionTick: 30, HeartbeatTick: 3, MaxInflightBlocks: 64, SnapshotIntervalBytes: 32 << 20}); got != want {
		t.Errorf("raft %+v, want %+v", got, want)
	}

	cs := b.Consenters()
	if len(cs) != 3 || cs[2].ID != 5 || cs[2].Endpoint.Address() != "127.0.0.1:7413" || cs[2].TLSCert == nil || cs[2].SigningCert.Subject.CommonName != "o3.orderer" {
		t.Errorf("consenters %+v", cs)
	}
	if c, ok := b.ConsenterByID(2); !ok || c.Endpoint.Port != 7412 || c.MSPID != "OrdererMSP" {
		t.Errorf("ConsenterByID(2) = %+v, %v", c, ok)
	}
	if _, ok := b.ConsenterByID(3); ok {
		t.Error("ConsenterByID(3) found a consenter")
	}

	oe := b.OrdererEndpoints()
	if len(oe) != 3 || oe[0].MSPID != "OrdererMSP" || oe[1].Address() != "127.0.0.1:7402" || oe[2].Name != "o3" {
		t.Errorf("orderer endpoints %+v", oe)
	}
	if gw := b.GatewayEndpoints("Org1MSP"); len(gw) != 2 || gw[0].Address() != "peer0.org1.example.com:7451" || gw[0].Name != "peer0" {
		t.Errorf("Org1 Gateway endpoints %+v", gw)
	}
	if gw := b.GatewayEndpoints("Org9MSP"); gw != nil {
		t.Errorf("Gateway endpoints of an unknown organization: %v", gw)
	}

	orgs := b.Organizations()
	if len(orgs) != 3 || orgs[0].MSPID() != "Org1MSP" || orgs[2].Type() != policy.OrdererOrg || orgs[1].Type() != policy.ApplicationOrg {
		t.Errorf("organizations %v", orgs)
	}
	org1, ok := b.Organization("Org1MSP")
	if !ok || org1.MSP().ID() != "Org1MSP" || len(org1.TLSRootCerts()) != 1 || org1.TLSCertPool() == nil || len(org1.GatewayPeers()) != 2 {
		t.Errorf("Org1 = %+v", org1)
	}
	if o, _ := b.Organization("OrdererMSP"); len(o.OrdererEndpoints()) != 3 || len(o.TLSIntermediateCerts()) != 0 {
		t.Errorf("OrdererMSP = %+v", o)
	}

	if names := b.PolicyNames(); !slices.Equal(names, []string{"Admins", "Audit", "BlockValidation", "Endorsement", "LifecycleEndorsement", "Readers", "TwoMembers", "Writers"}) {
		t.Errorf("policy names %v", names)
	}
	if p, ok := b.Policy("Endorsement"); !ok || p.(*policy.SignaturePolicy).String() != "AND('Org1MSP.peer','Org2MSP.peer')" {
		t.Errorf("Endorsement = %v, %v", p, ok)
	}
}

// TestNewBundleCopiesConfig checks that a Bundle does not see later
// changes to the configuration it was built from.
func TestNewBundleCopiesConfig(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	b, err := NewBundle(cfg, BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChannelId = "changed"
	cfg.Batch.MaxMessageCount = 1
	if b.ChannelID() != "mychannel" || b.Config().GetBatch().GetMaxMessageCount() != 500 {
		t.Error("the Bundle shares the caller's configuration")
	}
}

func TestNewBundleRefusesInvalid(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	cfg.Consensus.Consenters = nil
	var invalid *InvalidError
	if _, err := NewBundle(cfg, BundleOptions{}); !errors.As(err, &invalid) {
		t.Errorf("NewBundle of an invalid configuration: %v", err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:7050", "peer0.org1.example.com:7051", "[::1]:443"} {
		ep, err := ParseEndpoint(addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if ep.Address() != addr {
			t.Errorf("%s read back as %s", addr, ep.Address())
		}
	}
	for _, addr := range []string{"", "127.0.0.1", ":7050", "host:", "host:0", "host:65536", "host:http"} {
		if ep, err := ParseEndpoint(addr); err == nil {
			t.Errorf("%q read as %+v", addr, ep)
		}
	}
}
