package policy

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/identity"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

// Helpers that build envelopes the way Fabric's cauthdsl builders do.

func fabricRole(t testing.TB, msp string, role msppb.MSPRole_MSPRoleType) *msppb.MSPPrincipal {
	t.Helper()
	b, err := proto.Marshal(&msppb.MSPRole{MspIdentifier: msp, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return &msppb.MSPPrincipal{PrincipalClassification: msppb.MSPPrincipal_ROLE, Principal: b}
}

func fabricSignedBy(i int32) *commonpb.SignaturePolicy {
	return &commonpb.SignaturePolicy{Type: &commonpb.SignaturePolicy_SignedBy{SignedBy: i}}
}

func fabricNOutOf(n int32, rules ...*commonpb.SignaturePolicy) *commonpb.SignaturePolicy {
	return &commonpb.SignaturePolicy{Type: &commonpb.SignaturePolicy_NOutOf_{
		NOutOf: &commonpb.SignaturePolicy_NOutOf{N: n, Rules: rules},
	}}
}

// TestEnvelopeMatchesFabric checks the envelopes Fabric's policydsl tests
// expect for the same expressions.
func TestEnvelopeMatchesFabric(t *testing.T) {
	member := msppb.MSPRole_MEMBER
	tests := []struct {
		text string
		want *commonpb.SignaturePolicyEnvelope
	}{
		{
			"OutOf(1, 'A.member', 'B.member')",
			&commonpb.SignaturePolicyEnvelope{
				Rule:       fabricNOutOf(1, fabricSignedBy(0), fabricSignedBy(1)),
				Identities: []*msppb.MSPPrincipal{fabricRole(t, "A", member), fabricRole(t, "B", member)},
			},
		},
		{
			"AND('A.client', 'B.peer')",
			&commonpb.SignaturePolicyEnvelope{
				Rule:       fabricNOutOf(2, fabricSignedBy(0), fabricSignedBy(1)),
				Identities: []*msppb.MSPPrincipal{fabricRole(t, "A", msppb.MSPRole_CLIENT), fabricRole(t, "B", msppb.MSPRole_PEER)},
			},
		},
		{
			// Nested gates take the first indexes.
			"OR('A.member', AND('B.member', 'C.member'))",
			&commonpb.SignaturePolicyEnvelope{
				Rule: fabricNOutOf(1, fabricSignedBy(2), fabricNOutOf(2, fabricSignedBy(0), fabricSignedBy(1))),
				Identities: []*msppb.MSPPrincipal{
					fabricRole(t, "B", member), fabricRole(t, "C", member), fabricRole(t, "A", member),
				},
			},
		},
		{
			"OR(AND('A.member', 'B.member'), OR('C.admin', 'D.member'))",
			&commonpb.SignaturePolicyEnvelope{
				Rule: fabricNOutOf(1,
					fabricNOutOf(2, fabricSignedBy(0), fabricSignedBy(1)),
					fabricNOutOf(1, fabricSignedBy(2), fabricSignedBy(3))),
				Identities: []*msppb.MSPPrincipal{
					fabricRole(t, "A", member), fabricRole(t, "B", member),
					fabricRole(t, "C", msppb.MSPRole_ADMIN), fabricRole(t, "D", member),
				},
			},
		},
		{
			// Principals are not deduplicated, as in Fabric.
			"OR('A.peer', 'B.orderer', 'A.peer')",
			&commonpb.SignaturePolicyEnvelope{
				Rule: fabricNOutOf(1, fabricSignedBy(0), fabricSignedBy(1), fabricSignedBy(2)),
				Identities: []*msppb.MSPPrincipal{
					fabricRole(t, "A", msppb.MSPRole_PEER), fabricRole(t, "B", msppb.MSPRole_ORDERER), fabricRole(t, "A", msppb.MSPRole_PEER),
				},
			},
		},
		{
			// A lone principal is the envelope cauthdsl.SignedByMspPeer builds.
			"'A.peer'",
			&commonpb.SignaturePolicyEnvelope{
				Rule:       fabricSignedBy(0),
				Identities: []*msppb.MSPPrincipal{fabricRole(t, "A", msppb.MSPRole_PEER)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			p := MustParseSignaturePolicy(tt.text)
			got := p.Envelope()
			if !proto.Equal(got, tt.want) {
				t.Fatalf("Envelope() =\n\t%v\nwant\n\t%v", got, tt.want)
			}
			b, err := p.MarshalEnvelope()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(tt.want)
			if !bytes.Equal(b, want) {
				t.Fatalf("MarshalEnvelope() = %x, want %x", b, want)
			}
		})
	}
}

func TestRolePrincipalBytes(t *testing.T) {
	for _, msp := range []string{"A", "Org1MSP", "MSP.WITH.DOTS-and-dashes"} {
		for r := identity.RoleMember; r <= identity.RoleOrderer; r++ {
			want, err := proto.Marshal(&msppb.MSPRole{MspIdentifier: msp, Role: mspRoleType(r)})
			if err != nil {
				t.Fatal(err)
			}
			got := rolePrincipal(Principal{MSPID: msp, Role: r})
			if !bytes.Equal(got.Principal, want) || got.PrincipalClassification != msppb.MSPPrincipal_ROLE {
				t.Errorf("%s.%s: %x, want %x", msp, r, got.Principal, want)
			}
			if back, ok := roleFromMSPRole(mspRoleType(r)); !ok || back != r {
				t.Errorf("role %s does not round-trip", r)
			}
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, text := range []string{
		`AND('Org1MSP.peer','Org2MSP.peer')`,
		`OR('Org1MSP.member', AND('Org2MSP.admin','Org3MSP.client'))`,
		`OutOf(2, 'A.peer', 'B.peer', 'C.peer')`,
		`OutOf(1, 'A.orderer')`,
		`'Org1MSP.member'`,
		`AND(OR('A.peer','B.peer'),OutOf(2,'C.admin',AND('D.client','D.peer'),'E.admin'),'A.peer')`,
		nested(MaxDepth),
	} {
		p := MustParseSignaturePolicy(text)
		b, err := p.MarshalEnvelope()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if back.String() != p.String() {
			t.Errorf("%s: round trip gives %s", p, back)
		}
		again, _ := back.MarshalEnvelope()
		if !bytes.Equal(again, b) {
			t.Errorf("%s: bytes change on a second round trip", p)
		}
	}
}

func TestFromEnvelopeDeduplicatesPrincipals(t *testing.T) {
	// Fabric builders may point several leaves at one identity.
	env := &commonpb.SignaturePolicyEnvelope{
		Version:    7, // not checked, as in Fabric
		Rule:       fabricNOutOf(2, fabricSignedBy(0), fabricSignedBy(0), fabricSignedBy(1)),
		Identities: []*msppb.MSPPrincipal{fabricRole(t, "A", msppb.MSPRole_PEER), fabricRole(t, "B", msppb.MSPRole_ADMIN), {PrincipalClassification: msppb.MSPPrincipal_IDENTITY}},
	}
	p, err := FromEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != `OutOf(2,'A.peer','A.peer','B.admin')` {
		t.Fatalf("got %s", p)
	}
	if err := p.Evaluate(signers(t, "A.peer", "A.peer#2")); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnvelopeErrors(t *testing.T) {
	peerA := fabricRole(t, "A", msppb.MSPRole_PEER)
	deep := fabricSignedBy(0)
	for range MaxDepth + 1 {
		deep = fabricNOutOf(1, deep)
	}
	badRole, _ := proto.Marshal(&msppb.MSPRole{MspIdentifier: "A", Role: 9})
	badMSP, _ := proto.Marshal(&msppb.MSPRole{MspIdentifier: "Org 1", Role: msppb.MSPRole_PEER})
	emptyMSP, _ := proto.Marshal(&msppb.MSPRole{Role: msppb.MSPRole_PEER})
	tests := []struct {
		name string
		env  *commonpb.SignaturePolicyEnvelope
		want string
	}{
		{"nil", nil, "policy: nil SignaturePolicyEnvelope"},
		{"no rule", &commonpb.SignaturePolicyEnvelope{}, "policy: envelope rule: neither signed_by nor n_out_of"},
		{"index out of range", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricNOutOf(1, fabricSignedBy(0), fabricSignedBy(3)), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule /1: signed_by index 3 out of range (1 identities)"},
		{"negative index", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(-1), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule: signed_by index -1 out of range (1 identities)"},
		{"n zero", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricNOutOf(0, fabricSignedBy(0)), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule: n_out_of needs 1 <= n <= 1, got 0"},
		{"n too large", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricNOutOf(1, fabricNOutOf(3, fabricSignedBy(0), fabricSignedBy(0))), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule /0: n_out_of needs 1 <= n <= 2, got 3"},
		{"no rules", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricNOutOf(1), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule: n_out_of has no rules"},
		{"empty nested rule", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricNOutOf(1, fabricSignedBy(0), &commonpb.SignaturePolicy{}), Identities: []*msppb.MSPPrincipal{peerA},
		}, "policy: envelope rule /1: neither signed_by nor n_out_of"},
		{"identity principal", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{PrincipalClassification: msppb.MSPPrincipal_IDENTITY, Principal: []byte("cert")}},
		}, "policy: envelope rule: identities[0]: principal classification IDENTITY not supported (want ROLE)"},
		{"OU principal", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{PrincipalClassification: msppb.MSPPrincipal_ORGANIZATION_UNIT}},
		}, "principal classification ORGANIZATION_UNIT not supported"},
		{"garbage MSPRole", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{Principal: []byte{0xff, 0xff}}},
		}, "policy: envelope rule: identities[0]: decode MSPRole:"},
		{"unknown role", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{Principal: badRole}},
		}, "policy: envelope rule: identities[0]: unknown MSP role 9"},
		{"bad MSP id", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{Principal: badMSP}},
		}, `policy: envelope rule: identities[0]: invalid character ' ' in MSP id "Org 1"`},
		{"empty MSP id", &commonpb.SignaturePolicyEnvelope{
			Rule: fabricSignedBy(0), Identities: []*msppb.MSPPrincipal{{Principal: emptyMSP}},
		}, "policy: envelope rule: identities[0]: empty MSP id"},
		{"too deep", &commonpb.SignaturePolicyEnvelope{
			Rule: deep, Identities: []*msppb.MSPPrincipal{peerA},
		}, "gates nested deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FromEnvelope(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("FromEnvelope = %v, %v; want error containing %q", p, err, tt.want)
			}
		})
	}

	if _, err := UnmarshalEnvelope([]byte{0x12, 0x05, 0x01}); err == nil || !strings.HasPrefix(err.Error(), "policy: decode SignaturePolicyEnvelope: ") {
		t.Errorf("UnmarshalEnvelope(garbage) = %v", err)
	}
}
