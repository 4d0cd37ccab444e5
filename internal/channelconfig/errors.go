package channelconfig

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of CheckSigned that callers branch on with errors.Is. The errors
// returned are a *SignatureError or a *PolicyError carrying the details;
// these sentinels name their class.
var (
	// ErrBadSignature matches a *SignatureError: one of the signed data
	// carries an identity that is not valid on the channel (unknown MSP or
	// CA, expired, revoked, malformed) or a signature that does not verify.
	// A service answers BAD_REQUEST; a committing peer records
	// BAD_CREATOR_SIGNATURE for a transaction's creator.
	ErrBadSignature = errors.New("channelconfig: bad signature")

	// ErrPolicyNotSatisfied matches a *PolicyError: every signature is
	// valid, but the signers do not meet the policy. A service answers
	// FORBIDDEN.
	ErrPolicyNotSatisfied = errors.New("channelconfig: policy not satisfied")

	// ErrUnknownPolicy is returned by CheckSigned for a policy name the
	// channel does not define: a bug or a misconfiguration of the caller,
	// not of the request.
	ErrUnknownPolicy = errors.New("channelconfig: unknown policy")
)

// SignatureError is returned by CheckSigned when one of the signed data
// does not authenticate. It matches ErrBadSignature and unwraps to the
// identity package's error, so errors.Is(err, identity.ErrExpired) and the
// like tell why.
type SignatureError struct {
	// Policy is the policy that was being checked.
	Policy string
	// Index is the position of the offending SignedData in the call.
	Index int
	// MSPID is the MSP id the identity names, or "" when the identity
	// bytes do not decode.
	MSPID string
	// Err is the cause, from the identity package.
	Err error
}

func (e *SignatureError) Error() string {
	who := "unreadable identity"
	if e.MSPID != "" {
		who = "MSP " + e.MSPID
	}
	return fmt.Sprintf("channelconfig: policy %s: signature %d (%s): %s", e.Policy, e.Index, who, trimPrefixes(e.Err.Error()))
}

// Is reports whether target is ErrBadSignature.
func (e *SignatureError) Is(target error) bool { return target == ErrBadSignature }

// Unwrap returns the cause.
func (e *SignatureError) Unwrap() error { return e.Err }

// PolicyError is returned by CheckSigned when valid signers do not meet the
// policy. It matches ErrPolicyNotSatisfied and unwraps to the policy's own
// error, normally a *policy.NotSatisfiedError naming what was missing.
type PolicyError struct {
	// Policy is the name of the channel policy, such as "Writers".
	Policy string
	// Err is the policy's evaluation error.
	Err error
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("channelconfig: policy %s: %s", e.Policy, trimPrefixes(e.Err.Error()))
}

// Is reports whether target is ErrPolicyNotSatisfied.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicyNotSatisfied }

// Unwrap returns the policy's error.
func (e *PolicyError) Unwrap() error { return e.Err }

// FieldError is one problem found at one field of a channel definition or
// configuration.
type FieldError struct {
	// Path names the field as the YAML channel definition spells it, such
	// as "consensus.consenters[1].tlsCert"; "" for the whole document.
	Path string
	// Line is the 1-based line of the field in the YAML definition, or 0
	// when unknown (a configuration decoded from a block, a default).
	Line int
	// Err says what is wrong.
	Err error
}

func (e *FieldError) Error() string {
	msg := trimPrefixes(e.Err.Error())
	if e.Path == "" {
		return msg
	}
	return e.Path + ": " + msg
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// maxReported bounds the problems an InvalidError's message lists; all of
// them stay in Problems.
const maxReported = 20

// InvalidError is returned for a channel definition or configuration that
// is not valid. It lists every problem found, each at its field; Unwrap
// returns them, so errors.Is and errors.As see their causes.
type InvalidError struct {
	// Source is the definition's file name, or "channel definition" or
	// "channel configuration".
	Source string
	// Problems are the problems found, in document order.
	Problems []*FieldError
	// file is set when Source is a file name, which lines follow with ':'.
	file bool
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("channelconfig: ")
	if len(e.Problems) == 1 {
		b.WriteString(e.where(e.Problems[0]))
		b.WriteString(e.Problems[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems:", e.Source, len(e.Problems))
	for i, p := range e.Problems {
		if i == maxReported {
			fmt.Fprintf(&b, "\n\t... and %d more", len(e.Problems)-maxReported)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(e.where(p))
		b.WriteString(p.Error())
	}
	return b.String()
}

// where is the location prefix of a problem: "channel.yaml:12: ",
// "channel definition, line 12: " or "channel configuration: ".
func (e *InvalidError) where(p *FieldError) string {
	switch {
	case p.Line > 0 && e.file:
		return fmt.Sprintf("%s:%d: ", e.Source, p.Line)
	case p.Line > 0:
		return fmt.Sprintf("%s, line %d: ", e.Source, p.Line)
	}
	return e.Source + ": "
}

// Unwrap returns the problems.
func (e *InvalidError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Sources of an InvalidError that is not about a file.
const (
	sourceDefinition = "channel definition"
	sourceConfig     = "channel configuration"
)

// problems collects FieldErrors.
type problems struct {
	list []*FieldError
}

func (p *problems) add(path string, line int, err error) {
	p.list = append(p.list, &FieldError{Path: path, Line: line, Err: err})
}

func (p *problems) addf(path string, format string, args ...any) {
	p.add(path, 0, fmt.Errorf(format, args...))
}

func (p *problems) empty() bool { return len(p.list) == 0 }

// err returns nil when there are no problems, else an *InvalidError.
func (p *problems) err(source string, file bool) error {
	if p.empty() {
		return nil
	}
	return &InvalidError{Source: source, Problems: p.list, file: file}
}

// trimPrefixes removes the package prefixes of the errors this package
// wraps, which would repeat in a message that already says where it is.
func trimPrefixes(msg string) string {
	for _, prefix := range []string{"channelconfig: ", "policy: ", "identity: ", "envelope: ", "yaml: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

// join appends a field name to a path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// index appends an index to a path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
