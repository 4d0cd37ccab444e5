package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ImplicitRule says how many organizations an implicit policy needs.
type ImplicitRule int

const (
	// Any needs one organization.
	Any ImplicitRule = iota
	// All needs every organization.
	All
	// Majority needs more than half of the organizations.
	Majority
)

// String returns ANY, ALL or MAJORITY.
func (r ImplicitRule) String() string {
	switch r {
	case Any:
		return "ANY"
	case All:
		return "ALL"
	case Majority:
		return "MAJORITY"
	}
	return "ImplicitRule(" + strconv.Itoa(int(r)) + ")"
}

// Need returns how many of total organizations the rule needs: 1, total,
// or total/2+1.
func (r ImplicitRule) Need(total int) int {
	switch r {
	case Any:
		return 1
	case All:
		return total
	default:
		return total/2 + 1
	}
}

// Implicit is the text form of an implicit policy, such as "MAJORITY
// Admins": a rule and the name of the organizations' policy it combines.
type Implicit struct {
	Rule      ImplicitRule
	SubPolicy string
}

// String returns the implicit policy as written: "MAJORITY Admins".
func (s Implicit) String() string { return s.Rule.String() + " " + s.SubPolicy }

// ParseImplicit reads an implicit policy written RULE NAME, such as "ANY
// Readers", "ALL Writers" or "MAJORITY Admins". The rule may be in any case;
// the name is case-sensitive and made of letters, digits, '_', '-' and '.'.
func ParseImplicit(text string) (Implicit, error) {
	fields := strings.Fields(text)
	if len(fields) != 2 {
		return Implicit{}, fmt.Errorf("policy: implicit policy %q: want RULE NAME, such as \"MAJORITY Admins\"", text)
	}
	var rule ImplicitRule
	switch strings.ToUpper(fields[0]) {
	case "ANY":
		rule = Any
	case "ALL":
		rule = All
	case "MAJORITY":
		rule = Majority
	default:
		return Implicit{}, fmt.Errorf("policy: implicit policy %q: unknown rule %q (want ANY, ALL or MAJORITY)", text, fields[0])
	}
	if err := checkPolicyName(fields[1]); err != nil {
		return Implicit{}, fmt.Errorf("policy: implicit policy %q: %w", text, unprefix(err))
	}
	return Implicit{Rule: rule, SubPolicy: fields[1]}, nil
}

// isImplicitText reports whether text starts like an implicit policy.
func isImplicitText(text string) bool {
	f := strings.Fields(text)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "ANY", "ALL", "MAJORITY":
		return true
	}
	return false
}

func checkPolicyName(name string) error {
	if name == "" {
		return errors.New("policy: empty policy name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Errorf("policy: invalid character %q in policy name %q", c, name)
		}
	}
	return nil
}

// ImplicitPolicy is met when Any, All or a Majority of its organizations
// meet their own policy named SubPolicy. Each organization's policy is
// evaluated on all the signers. It is immutable and safe for concurrent
// use.
type ImplicitPolicy struct {
	spec Implicit
	orgs []string // MSP ids, in the order given
	subs []Policy // subs[i] is orgs[i]'s policy
}

// NewImplicitPolicy combines the policy named spec.SubPolicy of each
// organization. Every organization must have that policy, and MSP ids must
// not repeat. Unlike Fabric, which treats an implicit policy over no
// organizations as always met, an empty list is an error.
func NewImplicitPolicy(spec Implicit, orgs []*Organization) (*ImplicitPolicy, error) {
	if spec.Rule < Any || spec.Rule > Majority {
		return nil, fmt.Errorf("policy: %s: unknown rule", spec)
	}
	if err := checkPolicyName(spec.SubPolicy); err != nil {
		return nil, fmt.Errorf("policy: %s: %w", spec, unprefix(err))
	}
	if len(orgs) == 0 {
		return nil, fmt.Errorf("policy: %s: no organizations in scope", spec)
	}
	ip := &ImplicitPolicy{spec: spec}
	for _, o := range orgs {
		if o == nil {
			return nil, fmt.Errorf("policy: %s: nil organization", spec)
		}
		for _, id := range ip.orgs {
			if id == o.mspID {
				return nil, fmt.Errorf("policy: %s: organization %s listed twice", spec, id)
			}
		}
		sub, ok := o.policies[spec.SubPolicy]
		if !ok {
			return nil, fmt.Errorf("policy: %s: organization %s has no policy %q", spec, o.mspID, spec.SubPolicy)
		}
		ip.orgs = append(ip.orgs, o.mspID)
		ip.subs = append(ip.subs, sub)
	}
	return ip, nil
}

// String returns the policy as written: "MAJORITY Admins".
func (ip *ImplicitPolicy) String() string { return ip.spec.String() }

// Spec returns the rule and sub-policy name.
func (ip *ImplicitPolicy) Spec() Implicit { return ip.spec }

// Organizations returns the MSP ids of the organizations in scope.
func (ip *ImplicitPolicy) Organizations() []string { return append([]string(nil), ip.orgs...) }

// Evaluate returns nil when enough organizations meet their sub-policy.
// Otherwise it returns a *NotSatisfiedError that names the organizations
// that did not, with their own errors as causes.
func (ip *ImplicitPolicy) Evaluate(signers []Signer) error {
	need := ip.spec.Rule.Need(len(ip.orgs))
	met := 0
	var metOrgs, unmetOrgs []string
	var causes []error
	for i, sub := range ip.subs {
		err := sub.Evaluate(signers)
		if err == nil {
			met++
			if met >= need {
				return nil
			}
			metOrgs = append(metOrgs, ip.orgs[i])
			continue
		}
		unmetOrgs = append(unmetOrgs, ip.orgs[i])
		causes = append(causes, err)
	}
	e := &NotSatisfiedError{
		Policy:          ip.spec.String(),
		UnsatisfiedOrgs: unmetOrgs,
		Causes:          causes,
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d organizations", met, len(ip.orgs))
	if met > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(metOrgs, ", "))
	}
	fmt.Fprintf(&b, " satisfied, need %d; not satisfied: %s", need, strings.Join(unmetOrgs, ", "))
	e.Detail = b.String()
	for _, c := range causes {
		var ns *NotSatisfiedError
		if errors.As(c, &ns) {
			e.Missing = appendPrincipals(e.Missing, ns.Missing...)
		}
	}
	return e
}
