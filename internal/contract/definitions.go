package contract

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/policy"
	"github.com/chorusledger/chorus/internal/worldstate"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
)

const (
	// LifecycleName is the name, and namespace, of the _lifecycle system
	// contract, which keeps the channel's contract definitions.
	LifecycleName = "_lifecycle"
	// DefinitionFormatVersion is the format_version of the definitions this
	// build writes, and the newest it reads.
	DefinitionFormatVersion = 1
	// ChannelPolicyPrefix begins an endorsement policy that refers to a
	// channel policy: "/Channel/Endorsement".
	ChannelPolicyPrefix = "/Channel/"
	// DefaultEndorsementPolicy is the channel policy of a contract whose
	// definition gives no endorsement policy, as in Fabric.
	DefaultEndorsementPolicy = "Endorsement"

	definitionPrefix = "definitions/"
	maxVersionLen    = 128
	packageHashLen   = 32 // SHA-256
)

// ErrNotDefined matches the error of a DefinitionReader, and of Execute,
// for a contract that has no committed definition on the channel.
var ErrNotDefined = errors.New("contract: contract not defined")

// DefinitionReader finds the committed definition of a contract on one
// channel. Definition returns an error matching ErrNotDefined when there is
// none; other errors are storage failures. The definition returned belongs
// to the caller.
type DefinitionReader interface {
	Definition(name string) (*lifecyclepb.ContractDefinition, error)
}

// DefinitionKey returns the key, in the _lifecycle namespace, of the
// definition of the contract name.
func DefinitionKey(name string) string {
	return definitionPrefix + name
}

// StateDefinitions reads committed definitions from a channel's world
// state, through Reader: the database, or a snapshot of it. It records
// nothing; validators and the Gateway use it. It is safe for concurrent
// use if Reader is.
type StateDefinitions struct {
	State  *worldstate.State
	Reader kv.Reader
}

// Definition returns the committed definition of name.
func (d StateDefinitions) Definition(name string) (*lifecyclepb.ContractDefinition, error) {
	if err := worldstate.ValidateNamespace(name); err != nil {
		return nil, notDefined(name)
	}
	b, _, err := d.State.Get(d.Reader, LifecycleName, DefinitionKey(name))
	if err != nil {
		return nil, fmt.Errorf("contract: reading the definition of %s: %w", name, err)
	}
	if b == nil {
		return nil, &markedError{
			msg:  fmt.Sprintf("contract: contract %s is not defined on channel %s", name, d.State.Channel()),
			mark: ErrNotDefined,
		}
	}
	return decodeDefinition(name, b)
}

// SimulatorDefinitions reads definitions through a transaction's
// simulator: each read joins the transaction's read set (namespace
// _lifecycle), so that a definition committed between endorsement and
// validation makes the transaction an MVCC conflict, as Fabric's endorser
// arranges by reading definitions through its simulator. Endorsers use it
// for Invocation.Definitions. It belongs to the simulator's goroutine.
type SimulatorDefinitions struct {
	Simulator *worldstate.Simulator
}

// Definition returns the committed definition of name, recording the read.
func (d SimulatorDefinitions) Definition(name string) (*lifecyclepb.ContractDefinition, error) {
	if err := worldstate.ValidateNamespace(name); err != nil {
		return nil, notDefined(name)
	}
	b, err := d.Simulator.GetState(LifecycleName, DefinitionKey(name))
	if err != nil {
		return nil, fmt.Errorf("contract: reading the definition of %s: %w", name, err)
	}
	if b == nil {
		return nil, notDefined(name)
	}
	return decodeDefinition(name, b)
}

// DefinitionMap is a DefinitionReader over fixed definitions, by name, for
// tests and tools. It must not be modified while in use.
type DefinitionMap map[string]*lifecyclepb.ContractDefinition

// Definition returns a copy of m[name].
func (m DefinitionMap) Definition(name string) (*lifecyclepb.ContractDefinition, error) {
	def, ok := m[name]
	if !ok || def == nil {
		return nil, notDefined(name)
	}
	return proto.CloneOf(def), nil
}

func notDefined(name string) error {
	return &markedError{msg: fmt.Sprintf("contract: contract %q is not defined", name), mark: ErrNotDefined}
}

// decodeDefinition decodes the stored definition of name.
func decodeDefinition(name string, b []byte) (*lifecyclepb.ContractDefinition, error) {
	def := &lifecyclepb.ContractDefinition{}
	if err := proto.Unmarshal(b, def); err != nil {
		return nil, fmt.Errorf("contract: the stored definition of %s does not decode: %w", name, err)
	}
	switch v := def.GetFormatVersion(); {
	case v > DefinitionFormatVersion:
		return nil, fmt.Errorf("contract: the definition of %s has format version %d, newer than this peer reads (%d): upgrade the peer",
			name, v, DefinitionFormatVersion)
	case v == 0:
		return nil, fmt.Errorf("contract: the stored definition of %s has no format version", name)
	}
	if def.GetName() != name {
		return nil, fmt.Errorf("contract: the definition stored for %s names contract %q", name, def.GetName())
	}
	return def, nil
}

// EndorsementPolicyOf returns the endorsement policy of def: either a
// signature expression (expr, for policy.ParseSignaturePolicy) or the name
// of a channel policy (channelRef, such as "Endorsement" for the reference
// "/Channel/Endorsement"), to look up among the channel's policies.
// Exactly one is non-empty. A definition without a policy refers to the
// channel policy DefaultEndorsementPolicy.
func EndorsementPolicyOf(def *lifecyclepb.ContractDefinition) (expr string, channelRef string) {
	p := def.GetEndorsementPolicy()
	if p == "" {
		return "", DefaultEndorsementPolicy
	}
	if name, ok := strings.CutPrefix(p, ChannelPolicyPrefix); ok {
		return "", name
	}
	return p, ""
}

// DefinitionJSON is the JSON form of a contract definition: the argument
// of _lifecycle's CommitDefinition, and what its query functions return.
type DefinitionJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Sequence counts the definitions committed for Name: 1 for the first.
	Sequence uint64 `json:"sequence"`
	// EndorsementPolicy is a signature expression such as
	// AND('Org1MSP.peer','Org2MSP.peer'), or a channel policy reference
	// "/Channel/<Name>"; empty means "/Channel/Endorsement".
	EndorsementPolicy string `json:"endorsementPolicy"`
	// PackageHash is the SHA-256 of the contract package, in hex; empty for
	// a contract built into the peer.
	PackageHash  string `json:"packageHash"`
	InitRequired bool   `json:"initRequired"`
}

// ParseDefinitionJSON reads and checks a definition in its JSON form, as
// _lifecycle's CommitDefinition does before checking the sequence against
// the channel's state: exactly one JSON object with no unknown field; a
// name that is a valid namespace not beginning with '_'; a version of
// letters, digits, '_', '.', '+' and '-' (as Fabric's lifecycle); a
// sequence of at least 1; an endorsement policy that parses, stored in
// canonical form, or "/Channel/<Name>" (empty means
// "/Channel/Endorsement"); a package hash that is empty or 32 bytes in
// hex. The definition returned has format version 1.
func ParseDefinitionJSON(b []byte) (*lifecyclepb.ContractDefinition, error) {
	def, err := parseDefinition(b)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return def, nil
}

// parseDefinition is ParseDefinitionJSON with errors worded for a client,
// without the package prefix.
func parseDefinition(b []byte) (*lifecyclepb.ContractDefinition, error) {
	var in DefinitionJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("the definition is not valid JSON of the form {\"name\",\"version\",\"sequence\",\"endorsementPolicy\",\"packageHash\",\"initRequired\"}: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the definition is followed by more data: give exactly one JSON object")
	}
	if err := checkContractName(in.Name); err != nil {
		return nil, err
	}
	if err := checkVersion(in.Version); err != nil {
		return nil, fmt.Errorf("contract %s: %w", in.Name, err)
	}
	if in.Sequence == 0 {
		return nil, fmt.Errorf("contract %s: the sequence must be at least 1", in.Name)
	}
	pol, err := normalizePolicy(in.EndorsementPolicy)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", in.Name, err)
	}
	hash, err := hex.DecodeString(in.PackageHash)
	if err != nil {
		return nil, fmt.Errorf("contract %s: the package hash is not hex: %v", in.Name, err)
	}
	if len(hash) != 0 && len(hash) != packageHashLen {
		return nil, fmt.Errorf("contract %s: the package hash has %d bytes; a SHA-256 hash has %d", in.Name, len(hash), packageHashLen)
	}
	if len(hash) == 0 {
		hash = nil
	}
	return &lifecyclepb.ContractDefinition{
		FormatVersion:     DefinitionFormatVersion,
		Name:              in.Name,
		Version:           in.Version,
		Sequence:          in.Sequence,
		EndorsementPolicy: pol,
		PackageHash:       hash,
		InitRequired:      in.InitRequired,
	}, nil
}

// toJSON returns def in its JSON form.
func toJSON(def *lifecyclepb.ContractDefinition) DefinitionJSON {
	return DefinitionJSON{
		Name:              def.GetName(),
		Version:           def.GetVersion(),
		Sequence:          def.GetSequence(),
		EndorsementPolicy: def.GetEndorsementPolicy(),
		PackageHash:       hex.EncodeToString(def.GetPackageHash()),
		InitRequired:      def.GetInitRequired(),
	}
}

func checkContractName(name string) error {
	if name == "" {
		return errors.New("the definition has no name")
	}
	if err := worldstate.ValidateNamespace(name); err != nil {
		return fmt.Errorf("%q is not a valid contract name: 1 to %d characters from A-Z a-z 0-9 _ . + -", name, worldstate.MaxNamespaceLen)
	}
	if IsSystem(name) {
		return fmt.Errorf("contract name %q begins with '_', which is reserved for system contracts", name)
	}
	return nil
}

func checkVersion(v string) error {
	if v == "" {
		return errors.New("the version is empty")
	}
	if len(v) > maxVersionLen {
		return fmt.Errorf("the version is %d characters long; at most %d are allowed", len(v), maxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '_' && c != '.' && c != '+' && c != '-' {
			return fmt.Errorf("the version %q contains %q; use letters, digits, '_', '.', '+' and '-'", v, c)
		}
	}
	return nil
}

// normalizePolicy checks an endorsement policy and returns the form to
// store: the canonical text of a signature expression, or a channel
// policy reference as given.
func normalizePolicy(p string) (string, error) {
	if p == "" {
		return ChannelPolicyPrefix + DefaultEndorsementPolicy, nil
	}
	if name, ok := strings.CutPrefix(p, ChannelPolicyPrefix); ok {
		if err := checkPolicyName(name); err != nil {
			return "", fmt.Errorf("the endorsement policy %q: %w", p, err)
		}
		return p, nil
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("the endorsement policy %q is neither a signature expression nor a channel policy reference %s<Name>", p, ChannelPolicyPrefix)
	}
	sp, err := policy.ParseSignaturePolicy(p)
	if err != nil {
		return "", fmt.Errorf("the endorsement policy does not parse: %v", err)
	}
	return sp.String(), nil
}

// checkPolicyName accepts the names of channel policies: letters, digits,
// '_', '-' and '.'.
func checkPolicyName(name string) error {
	if name == "" {
		return errors.New("no policy name after " + ChannelPolicyPrefix)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Errorf("the channel policy name %q contains %q; names use letters, digits, '_', '-' and '.'", name, c)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
