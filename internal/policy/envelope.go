package policy

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/identity"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
)

// Envelope returns the policy in Fabric's form, as Fabric's policy parser
// (policydsl.FromString) builds it, so that the bytes match Fabric's for the
// same expression: version 0; every gate an n_out_of (AND has n equal to the
// number of rules, OR n = 1); every leaf a signed_by index into identities,
// which are ROLE principals holding a marshalled MSPRole. Like Fabric,
// identities are not deduplicated and are numbered in the order Fabric's
// parser meets them: a gate's nested gates first, left to right, then its
// own principals, left to right.
func (p *SignaturePolicy) Envelope() *commonpb.SignaturePolicyEnvelope {
	env := &commonpb.SignaturePolicyEnvelope{}
	env.Rule = p.fabricRule(p.root, &env.Identities)
	return env
}

// MarshalEnvelope returns the deterministic protobuf encoding of Envelope.
func (p *SignaturePolicy) MarshalEnvelope() ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p.Envelope())
	if err != nil {
		return nil, fmt.Errorf("policy: marshal SignaturePolicyEnvelope: %w", err)
	}
	return b, nil
}

func (p *SignaturePolicy) fabricRule(nd *node, ids *[]*msppb.MSPPrincipal) *commonpb.SignaturePolicy {
	signedBy := func(nd *node) *commonpb.SignaturePolicy {
		i := len(*ids)
		*ids = append(*ids, rolePrincipal(p.principals[nd.principal]))
		return &commonpb.SignaturePolicy{Type: &commonpb.SignaturePolicy_SignedBy{SignedBy: int32(i)}}
	}
	if nd.leaf() {
		return signedBy(nd)
	}
	rules := make([]*commonpb.SignaturePolicy, len(nd.rules))
	for i, r := range nd.rules {
		if !r.leaf() {
			rules[i] = p.fabricRule(r, ids)
		}
	}
	for i, r := range nd.rules {
		if r.leaf() {
			rules[i] = signedBy(r)
		}
	}
	return &commonpb.SignaturePolicy{Type: &commonpb.SignaturePolicy_NOutOf_{
		NOutOf: &commonpb.SignaturePolicy_NOutOf{N: int32(nd.n), Rules: rules},
	}}
}

// rolePrincipal encodes a principal as Fabric's MSPPrincipal of
// classification ROLE. The MSPRole is encoded by hand, field by field in
// number order with the zero role left out, which is what a protobuf
// marshaller produces.
func rolePrincipal(pr Principal) *msppb.MSPPrincipal {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, pr.MSPID)
	if r := mspRoleType(pr.Role); r != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r))
	}
	return &msppb.MSPPrincipal{PrincipalClassification: msppb.MSPPrincipal_ROLE, Principal: b}
}

func mspRoleType(r identity.Role) msppb.MSPRole_MSPRoleType {
	switch r {
	case identity.RoleAdmin:
		return msppb.MSPRole_ADMIN
	case identity.RoleClient:
		return msppb.MSPRole_CLIENT
	case identity.RolePeer:
		return msppb.MSPRole_PEER
	case identity.RoleOrderer:
		return msppb.MSPRole_ORDERER
	}
	return msppb.MSPRole_MEMBER
}

func roleFromMSPRole(t msppb.MSPRole_MSPRoleType) (identity.Role, bool) {
	switch t {
	case msppb.MSPRole_MEMBER:
		return identity.RoleMember, true
	case msppb.MSPRole_ADMIN:
		return identity.RoleAdmin, true
	case msppb.MSPRole_CLIENT:
		return identity.RoleClient, true
	case msppb.MSPRole_PEER:
		return identity.RolePeer, true
	case msppb.MSPRole_ORDERER:
		return identity.RoleOrderer, true
	}
	return 0, false
}

// UnmarshalEnvelope decodes a Fabric SignaturePolicyEnvelope, as found in a
// chaincode definition's endorsement policy, and converts it with
// FromEnvelope.
func UnmarshalEnvelope(b []byte) (*SignaturePolicy, error) {
	env := &commonpb.SignaturePolicyEnvelope{}
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("policy: decode SignaturePolicyEnvelope: %w", err)
	}
	return FromEnvelope(env)
}

// FromEnvelope converts a Fabric SignaturePolicyEnvelope into a signature
// policy. It accepts what Fabric's evaluator accepts, with these
// exceptions, which are errors: principals other than ROLE (organizational
// unit, identity, anonymity, combined); an n_out_of whose n is below 1 or
// above its number of rules (Fabric's "always" and "never" policies); gates
// nested deeper than MaxDepth. Identities the rule does not refer to are
// ignored, and the version is not checked, as in Fabric.
func FromEnvelope(env *commonpb.SignaturePolicyEnvelope) (*SignaturePolicy, error) {
	if env == nil {
		return nil, errors.New("policy: nil SignaturePolicyEnvelope")
	}
	d := envDecoder{ids: env.GetIdentities(), decoded: make(map[int32]Principal)}
	e, err := d.rule(env.GetRule(), "", 0)
	if err != nil {
		return nil, err
	}
	// The decoder checks everything Validate does; keep the one definition
	// of a valid tree authoritative anyway.
	return NewSignaturePolicy(e)
}

type envDecoder struct {
	ids     []*msppb.MSPPrincipal
	decoded map[int32]Principal
}

func (d *envDecoder) rule(r *commonpb.SignaturePolicy, path string, depth int) (Expr, error) {
	at := func() string {
		if path == "" {
			return "rule"
		}
		return "rule " + path
	}
	switch t := r.GetType().(type) {
	case *commonpb.SignaturePolicy_SignedBy:
		pr, err := d.principal(t.SignedBy)
		if err != nil {
			return nil, fmt.Errorf("policy: envelope %s: %w", at(), err)
		}
		return &SignedBy{Principal: pr}, nil
	case *commonpb.SignaturePolicy_NOutOf_:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("policy: envelope %s: gates nested deeper than %d", at(), MaxDepth)
		}
		rules := t.NOutOf.GetRules()
		n := t.NOutOf.GetN()
		if len(rules) == 0 {
			return nil, fmt.Errorf("policy: envelope %s: n_out_of has no rules", at())
		}
		if n < 1 || int(n) > len(rules) {
			return nil, fmt.Errorf("policy: envelope %s: n_out_of needs 1 <= n <= %d, got %d", at(), len(rules), n)
		}
		g := &Gate{N: int(n), Rules: make([]Expr, len(rules))}
		for i, sub := range rules {
			e, err := d.rule(sub, path+"/"+strconv.Itoa(i), depth+1)
			if err != nil {
				return nil, err
			}
			g.Rules[i] = e
		}
		return g, nil
	default:
		return nil, fmt.Errorf("policy: envelope %s: neither signed_by nor n_out_of", at())
	}
}

func (d *envDecoder) principal(i int32) (Principal, error) {
	if pr, ok := d.decoded[i]; ok {
		return pr, nil
	}
	if i < 0 || int(i) >= len(d.ids) {
		return Principal{}, fmt.Errorf("signed_by index %d out of range (%d identities)", i, len(d.ids))
	}
	mp := d.ids[i]
	if c := mp.GetPrincipalClassification(); c != msppb.MSPPrincipal_ROLE {
		return Principal{}, fmt.Errorf("identities[%d]: principal classification %s not supported (want ROLE)", i, c)
	}
	var role msppb.MSPRole
	if err := proto.Unmarshal(mp.GetPrincipal(), &role); err != nil {
		return Principal{}, fmt.Errorf("identities[%d]: decode MSPRole: %w", i, err)
	}
	r, ok := roleFromMSPRole(role.GetRole())
	if !ok {
		return Principal{}, fmt.Errorf("identities[%d]: unknown MSP role %d", i, int32(role.GetRole()))
	}
	pr := Principal{MSPID: role.GetMspIdentifier(), Role: r}
	if err := checkMSPID(pr.MSPID); err != nil {
		return Principal{}, fmt.Errorf("identities[%d]: %w", i, unprefix(err))
	}
	d.decoded[i] = pr
	return pr, nil
}
