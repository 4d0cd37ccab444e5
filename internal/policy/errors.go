package policy

import (
	"errors"
	"fmt"
)

// ErrEvaluationLimit is the cause of a NotSatisfiedError when deciding a
// signature policy would have taken more work than an evaluation may spend
// (see the package documentation). It can only happen for signer sets that
// Fabric's evaluation rejects too. Match it with errors.Is.
var ErrEvaluationLimit = errors.New("policy: evaluation limit reached")

// NotSatisfiedError is returned by Evaluate when the signers do not meet a
// policy. It says what was missing in its message and in its fields, so that
// a peer can record the missing principals beside a transaction's
// validation code.
type NotSatisfiedError struct {
	// Policy is the policy evaluated, as text: the canonical signature
	// expression, or "MAJORITY Admins" for an implicit policy.
	Policy string
	// Detail says in words what was missing, for example
	// "missing Org2MSP.peer".
	Detail string
	// Missing lists, without duplicates and in the order the policy names
	// them, the principals of the rules that were not met. For AND every one
	// of them is needed; under OR, OutOf, ANY and MAJORITY some of them are
	// alternatives.
	Missing []Principal
	// UnsatisfiedOrgs lists, for an implicit policy, the MSP ids of the
	// organizations whose sub-policy was not met, in configuration order.
	UnsatisfiedOrgs []string
	// Causes holds the errors of those organizations' sub-policies, or
	// ErrEvaluationLimit.
	Causes []error
}

func (e *NotSatisfiedError) Error() string {
	return fmt.Sprintf("policy: %s not satisfied: %s", e.Policy, e.Detail)
}

// Unwrap returns Causes, so that errors.Is and errors.As see them.
func (e *NotSatisfiedError) Unwrap() []error { return e.Causes }

// appendPrincipals appends to dst the principals of src it does not hold yet.
func appendPrincipals(dst []Principal, src ...Principal) []Principal {
next:
	for _, p := range src {
		for _, q := range dst {
			if p == q {
				continue next
			}
		}
		dst = append(dst, p)
	}
	return dst
}
