package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// Organizations are a channel's organizations, which implicit policies
// range over.
type Organizations struct {
	// Application are the organizations whose peers and clients use the
	// channel (ChannelConfig.organizations).
	Application []*Organization
	// Orderer are the organizations that run the ordering service
	// (ChannelConfig.orderer_organizations).
	Orderer []*Organization
}

// OrganizationsFromConfig builds the policy sets of a channel's
// organizations: the defaults of each organization's type, replaced by the
// policies its configuration names. Organization policies must be
// signature policies.
func OrganizationsFromConfig(cfg *configpb.ChannelConfig) (Organizations, error) {
	var orgs Organizations
	var err error
	if orgs.Application, err = orgsFromConfig(cfg.GetOrganizations(), ApplicationOrg); err != nil {
		return Organizations{}, err
	}
	if orgs.Orderer, err = orgsFromConfig(cfg.GetOrdererOrganizations(), OrdererOrg); err != nil {
		return Organizations{}, err
	}
	return orgs, nil
}

func orgsFromConfig(list []*configpb.Organization, t OrgType) ([]*Organization, error) {
	orgs := make([]*Organization, 0, len(list))
	for _, c := range list {
		o, err := OrganizationFromConfig(c, t)
		if err != nil {
			return nil, err
		}
		for _, prev := range orgs {
			if prev.mspID == o.mspID {
				return nil, fmt.Errorf("policy: %s organization %s listed twice", t, o.mspID)
			}
		}
		orgs = append(orgs, o)
	}
	return orgs, nil
}

// OrganizationFromConfig builds one organization's policy set from its
// configuration: the defaults of its type, replaced or extended by the
// signature policies it names.
func OrganizationFromConfig(c *configpb.Organization, t OrgType) (*Organization, error) {
	mspID := c.GetMspId()
	if err := checkMSPID(mspID); err != nil {
		return nil, fmt.Errorf("policy: %s organization: %w", t, unprefix(err))
	}
	overrides := make(map[string]Policy, len(c.GetPolicies()))
	for _, name := range sortedKeys(c.GetPolicies()) {
		cp := c.GetPolicies()[name]
		if cp.GetImplicit() != nil {
			return nil, fmt.Errorf("policy: organization %s: policy %s: an organization's policies must be signature policies", mspID, name)
		}
		p, err := Compile(cp, Organizations{})
		if err != nil {
			return nil, fmt.Errorf("policy: organization %s: policy %s: %w", mspID, name, unprefix(err))
		}
		overrides[name] = p
	}
	return NewOrganization(mspID, t, overrides)
}

// Compile turns one policy of the channel configuration into a Policy. A
// signature policy is parsed (a *SignaturePolicy); an implicit policy
// combines the organizations of its scope (an *ImplicitPolicy). The
// organizations of the CHANNEL scope are the application and the orderer
// organizations; an MSP id in both counts once, and meets the sub-policy
// if either of its definitions does.
func Compile(p *configpb.Policy, orgs Organizations) (Policy, error) {
	switch r := p.GetRule().(type) {
	case *configpb.Policy_Signature:
		return ParseSignaturePolicy(r.Signature)
	case *configpb.Policy_Implicit:
		ip := r.Implicit
		var spec Implicit
		switch ip.GetRule() {
		case configpb.ImplicitPolicy_ANY:
			spec.Rule = Any
		case configpb.ImplicitPolicy_ALL:
			spec.Rule = All
		case configpb.ImplicitPolicy_MAJORITY:
			spec.Rule = Majority
		default:
			return nil, fmt.Errorf("policy: implicit policy: unknown rule %d", int32(ip.GetRule()))
		}
		spec.SubPolicy = ip.GetSubPolicy()
		var scope []*Organization
		switch ip.GetScope() {
		case configpb.ImplicitPolicy_APPLICATION:
			scope = orgs.Application
		case configpb.ImplicitPolicy_ORDERER:
			scope = orgs.Orderer
		case configpb.ImplicitPolicy_CHANNEL:
			scope = mergeOrgs(orgs.Application, orgs.Orderer)
		default:
			return nil, fmt.Errorf("policy: %s: unknown scope %d", spec, int32(ip.GetScope()))
		}
		return NewImplicitPolicy(spec, scope)
	case nil:
		return nil, errors.New("policy: empty policy (neither signature nor implicit)")
	default:
		return nil, fmt.Errorf("policy: unknown policy type %T", r)
	}
}

// ChannelPolicies compiles every policy of a channel configuration, by
// name.
func ChannelPolicies(cfg *configpb.ChannelConfig) (map[string]Policy, error) {
	orgs, err := OrganizationsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Policy, len(cfg.GetPolicies()))
	for _, name := range sortedKeys(cfg.GetPolicies()) {
		p, err := Compile(cfg.GetPolicies()[name], orgs)
		if err != nil {
			return nil, fmt.Errorf("policy: channel policy %s: %w", name, unprefix(err))
		}
		out[name] = p
	}
	return out, nil
}

// ParseConfigPolicy reads a policy as an operator writes it in a
// configuration file: an implicit policy ("MAJORITY Admins", scope
// APPLICATION) or a signature expression, stored in canonical form.
func ParseConfigPolicy(text string) (*configpb.Policy, error) {
	if isImplicitText(text) {
		spec, err := ParseImplicit(text)
		if err != nil {
			return nil, err
		}
		return &configpb.Policy{Rule: &configpb.Policy_Implicit{Implicit: &configpb.ImplicitPolicy{
			Rule:      implicitRuleProto(spec.Rule),
			SubPolicy: spec.SubPolicy,
			Scope:     configpb.ImplicitPolicy_APPLICATION,
		}}}, nil
	}
	sp, err := ParseSignaturePolicy(text)
	if err != nil {
		return nil, err
	}
	return &configpb.Policy{Rule: &configpb.Policy_Signature{Signature: sp.String()}}, nil
}

func implicitRuleProto(r ImplicitRule) configpb.ImplicitPolicy_Rule {
	switch r {
	case All:
		return configpb.ImplicitPolicy_ALL
	case Majority:
		return configpb.ImplicitPolicy_MAJORITY
	}
	return configpb.ImplicitPolicy_ANY
}

// mergeOrgs lists the organizations of both lists once each. An
// organization in both gets policies met by either definition.
func mergeOrgs(app, ord []*Organization) []*Organization {
	out := slices.Clone(app)
	for _, o := range ord {
		i := slices.IndexFunc(out, func(a *Organization) bool { return a.mspID == o.mspID })
		if i < 0 {
			out = append(out, o)
			continue
		}
		a := out[i]
		merged := &Organization{mspID: a.mspID, typ: a.typ, policies: make(map[string]Policy)}
		for name, p := range a.policies {
			merged.policies[name] = p
		}
		for name, p := range o.policies {
			if q, ok := merged.policies[name]; ok {
				merged.policies[name] = either{q, p}
			} else {
				merged.policies[name] = p
			}
		}
		out[i] = merged
	}
	return out
}

// either is met when one of two policies is.
type either [2]Policy

func (e either) Evaluate(signers []Signer) error {
	err0 := e[0].Evaluate(signers)
	if err0 == nil {
		return nil
	}
	err1 := e[1].Evaluate(signers)
	if err1 == nil {
		return nil
	}
	out := &NotSatisfiedError{Causes: []error{err0, err1}}
	var names, details []string
	for _, err := range out.Causes {
		var ns *NotSatisfiedError
		if errors.As(err, &ns) {
			names = append(names, ns.Policy)
			details = append(details, ns.Detail)
			out.Missing = appendPrincipals(out.Missing, ns.Missing...)
		} else {
			names = append(names, "?")
			details = append(details, err.Error())
		}
	}
	out.Policy = strings.Join(names, " or ")
	out.Detail = strings.Join(details, "; and ")
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
