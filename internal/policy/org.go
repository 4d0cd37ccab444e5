package policy

import (
	"fmt"
	"slices"

	"github.com/chorusledger/chorus/internal/identity"
)

// Names of the policies every organization has.
const (
	Readers     = "Readers"
	Writers     = "Writers"
	Admins      = "Admins"
	Endorsement = "Endorsement"
)

// OrgType says what an organization runs, which decides its default
// policies.
type OrgType int

const (
	// ApplicationOrg runs peers and has clients.
	ApplicationOrg OrgType = iota
	// OrdererOrg runs orderers.
	OrdererOrg
)

// String returns "application" or "orderer".
func (t OrgType) String() string {
	switch t {
	case ApplicationOrg:
		return "application"
	case OrdererOrg:
		return "orderer"
	}
	return fmt.Sprintf("OrgType(%d)", int(t))
}

// DefaultOrgPolicies returns the role-based policies an organization has
// unless its configuration says otherwise, as Fabric's sample
// configurations write them:
//
//	Readers      OR('X.admin','X.peer','X.client','X.orderer')
//	Writers      OR('X.admin','X.client')             application organizations
//	             OR('X.admin','X.client','X.orderer') orderer organizations
//	Admins       OR('X.admin')
//	Endorsement  OR('X.peer')
func DefaultOrgPolicies(mspID string, t OrgType) (map[string]*SignaturePolicy, error) {
	if err := checkMSPID(mspID); err != nil {
		return nil, err
	}
	if t != ApplicationOrg && t != OrdererOrg {
		return nil, fmt.Errorf("policy: organization %s: unknown type %d", mspID, int(t))
	}
	anyOf := func(roles ...identity.Role) *SignaturePolicy {
		rules := make([]Expr, len(roles))
		for i, r := range roles {
			rules[i] = Signed(mspID, r)
		}
		return compile(Or(rules...))
	}
	writers := []identity.Role{identity.RoleAdmin, identity.RoleClient}
	if t == OrdererOrg {
		writers = append(writers, identity.RoleOrderer)
	}
	return map[string]*SignaturePolicy{
		Readers:     anyOf(identity.RoleAdmin, identity.RolePeer, identity.RoleClient, identity.RoleOrderer),
		Writers:     anyOf(writers...),
		Admins:      anyOf(identity.RoleAdmin),
		Endorsement: anyOf(identity.RolePeer),
	}, nil
}

// Organization is one organization's named policies. It is immutable and
// safe for concurrent use.
type Organization struct {
	mspID    string
	typ      OrgType
	policies map[string]Policy
}

// NewOrganization returns an organization with the default policies of its
// type (see DefaultOrgPolicies), replaced or extended by overrides, which
// may be nil.
func NewOrganization(mspID string, t OrgType, overrides map[string]Policy) (*Organization, error) {
	defaults, err := DefaultOrgPolicies(mspID, t)
	if err != nil {
		return nil, err
	}
	o := &Organization{mspID: mspID, typ: t, policies: make(map[string]Policy, len(defaults)+len(overrides))}
	for name, p := range defaults {
		o.policies[name] = p
	}
	for name, p := range overrides {
		if err := checkPolicyName(name); err != nil {
			return nil, fmt.Errorf("policy: organization %s: %w", mspID, unprefix(err))
		}
		if p == nil {
			return nil, fmt.Errorf("policy: organization %s: policy %s is nil", mspID, name)
		}
		o.policies[name] = p
	}
	return o, nil
}

// MSPID returns the organization's MSP id.
func (o *Organization) MSPID() string { return o.mspID }

// Type returns whether the organization is an application or an orderer
// organization.
func (o *Organization) Type() OrgType { return o.typ }

// Policy returns the organization's policy with the given name.
func (o *Organization) Policy(name string) (Policy, bool) {
	p, ok := o.policies[name]
	return p, ok
}

// PolicyNames returns the names of the organization's policies, sorted.
func (o *Organization) PolicyNames() []string {
	names := make([]string, 0, len(o.policies))
	for n := range o.policies {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
