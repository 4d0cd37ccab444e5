package channelconfig

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chorusledger/chorus/internal/policy"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// Defaults of a channel definition: what Config writes for a field left out
// or zero.
const (
	DefaultConsensusType         = "raft"
	DefaultTickInterval          = 100 * time.Millisecond
	DefaultElectionTick          = 20
	DefaultHeartbeatTick         = 2
	DefaultMaxInflightBlocks     = 256
	DefaultSnapshotIntervalBytes = 16 * MiB
	DefaultMaxMessageCount       = 500
	DefaultAbsoluteMaxBytes      = 10 * MiB
	DefaultPreferredMaxBytes     = 2 * MiB
	DefaultBatchTimeout          = 250 * time.Millisecond
)

// Names of the channel policies Chorus uses.
const (
	PolicyReaders              = "Readers"
	PolicyWriters              = "Writers"
	PolicyAdmins               = "Admins"
	PolicyEndorsement          = "Endorsement"
	PolicyLifecycleEndorsement = "LifecycleEndorsement"
	PolicyBlockValidation      = "BlockValidation"
)

// Limits on what a definition may be made of, so that a mistaken path
// (/dev/zero) or a hostile file cannot exhaust memory.
const (
	maxDefinitionSize = 16 << 20 // the YAML file
	maxPEMFileSize    = 1 << 20  // one certificate or CRL file
)

// Definition is a channel as an operator writes it in YAML: its name, its
// organizations and their certificate authorities, its consensus and block
// cutting parameters, and its policies. Fields left out take the defaults
// documented in docs/channel-definition.md; Config applies them.
//
// A Definition is plain data. ParseDefinition and LoadDefinition fill it
// from YAML and read the certificate files it names; a program may also
// build one and give certificates inline.
type Definition struct {
	// Name is the channel id: lowercase letters, digits, '.' and '-',
	// starting with a letter, fewer than 250 characters.
	Name string `yaml:"name"`
	// Sequence is the configuration's sequence number: 0 for a new
	// channel.
	Sequence uint64 `yaml:"sequence,omitempty"`
	// Organizations are the application organizations: their peers and
	// clients use the channel.
	Organizations []OrganizationDef `yaml:"organizations,omitempty"`
	// OrdererOrganizations run the ordering service.
	OrdererOrganizations []OrganizationDef `yaml:"ordererOrganizations"`
	// Consensus says how blocks are ordered.
	Consensus ConsensusDef `yaml:"consensus"`
	// Batch says when the ordering service cuts a block.
	Batch BatchDef `yaml:"batch,omitempty"`
	// Policies are the channel policies by name; the six policies Chorus
	// uses default as DefaultPolicies says.
	Policies map[string]PolicyDef `yaml:"policies,omitempty"`

	// source and lines locate the definition's fields for error messages:
	// the file (or "") and the line of each path.
	source string
	lines  map[string]int
}

// OrganizationDef is one organization: its MSP id, its certificate
// authorities, and, depending on its role, its Gateway peers or its
// orderers.
type OrganizationDef struct {
	// MSPID names the organization in policies: letters, digits, '.' and
	// '-'.
	MSPID string `yaml:"mspID"`
	// RootCerts are the root CA certificates of the organization's
	// identities; at least one.
	RootCerts []PEM `yaml:"rootCerts"`
	// IntermediateCerts are intermediate CA certificates, each chaining to
	// a root.
	IntermediateCerts []PEM `yaml:"intermediateCerts,omitempty"`
	// TLSRootCerts and TLSIntermediateCerts are the CAs of the
	// organization's TLS certificates.
	TLSRootCerts         []PEM `yaml:"tlsRootCerts,omitempty"`
	TLSIntermediateCerts []PEM `yaml:"tlsIntermediateCerts,omitempty"`
	// CRLs are certificate revocation lists signed by the CAs above.
	CRLs []PEM `yaml:"crls,omitempty"`
	// Policies replace or add to the organization's own policies (Readers,
	// Writers, Admins, Endorsement by default; see the policy package).
	// They must be signature policies.
	Policies map[string]PolicyDef `yaml:"policies,omitempty"`
	// GatewayPeers are the peers that serve the Gateway and endorse for an
	// application organization.
	GatewayPeers []Endpoint `yaml:"gatewayPeers,omitempty"`
	// OrdererEndpoints are the Broadcast and Deliver endpoints of an
	// orderer organization.
	OrdererEndpoints []Endpoint `yaml:"ordererEndpoints,omitempty"`
}

// Endpoint is a network address and, optionally, the name of the node
// there.
type Endpoint struct {
	Host string `yaml:"host"`
	Port uint32 `yaml:"port"`
	Name string `yaml:"name,omitempty"`
}

// ConsensusDef is the consensus of the channel.
type ConsensusDef struct {
	// Type is the consensus protocol; "raft", the default, is the only one
	// so far.
	Type string `yaml:"type,omitempty"`
	// NextConsenterID is the id the next consenter added will get; ids are
	// never reused. Zero means one more than the largest id in Consenters.
	NextConsenterID uint64 `yaml:"nextConsenterID,omitempty"`
	// Consenters are the orderers taking part in consensus; at least one.
	Consenters []ConsenterDef `yaml:"consenters"`
	// Raft holds the Raft options.
	Raft RaftDef `yaml:"raft,omitempty"`
}

// ConsenterDef is one orderer taking part in consensus.
type ConsenterDef struct {
	// ID is the consenter's Raft id: positive, unique, never reused.
	ID uint64 `yaml:"id"`
	// MSPID is the orderer organization running it.
	MSPID string `yaml:"mspID"`
	// Host and Port are the address of its cluster endpoint.
	Host string `yaml:"host"`
	Port uint32 `yaml:"port"`
	// SigningCert is the certificate that signs its blocks (OU=orderer,
	// issued by a CA of its organization).
	SigningCert PEM `yaml:"signingCert"`
	// TLSCert is the certificate it presents on cluster links.
	TLSCert PEM `yaml:"tlsCert"`
}

// RaftDef holds the Raft options; zero means the default.
type RaftDef struct {
	TickInterval          Duration `yaml:"tickInterval,omitempty"`
	ElectionTick          uint32   `yaml:"electionTick,omitempty"`
	HeartbeatTick         uint32   `yaml:"heartbeatTick,omitempty"`
	MaxInflightBlocks     uint32   `yaml:"maxInflightBlocks,omitempty"`
	SnapshotIntervalBytes ByteSize `yaml:"snapshotIntervalBytes,omitempty"`
}

// BatchDef says when the block cutter cuts a block: after MaxMessageCount
// envelopes, past PreferredMaxBytes, or Timeout after the first envelope.
// No envelope may exceed AbsoluteMaxBytes. Zero means the default.
type BatchDef struct {
	MaxMessageCount   uint32   `yaml:"maxMessageCount,omitempty"`
	AbsoluteMaxBytes  ByteSize `yaml:"absoluteMaxBytes,omitempty"`
	PreferredMaxBytes ByteSize `yaml:"preferredMaxBytes,omitempty"`
	Timeout           Duration `yaml:"timeout,omitempty"`
}

// Policy scopes as a definition writes them.
const (
	ScopeApplication = "application"
	ScopeOrderer     = "orderer"
	ScopeChannel     = "channel"
)

// PolicyDef is a policy as a definition writes it: a signature expression
// such as "AND('Org1MSP.peer','Org2MSP.peer')", or an implicit policy such
// as "MAJORITY Admins" over the organizations of Scope. In YAML it is a
// string, for a signature policy or an implicit policy over the
// application organizations, or a mapping {rule, scope} for an implicit
// policy over another scope.
type PolicyDef struct {
	// Rule is the policy's text.
	Rule string
	// Scope is, for an implicit policy, "application" (the default),
	// "orderer" or "channel" (both). It must be empty for a signature
	// policy.
	Scope string
}

// DefaultPolicies returns the channel policies a definition gets for the
// names it leaves out: Readers and Writers met by ANY organization of the
// channel; Admins by a MAJORITY of the application organizations (of the
// orderer organizations when there are none); Endorsement and
// LifecycleEndorsement by a MAJORITY of the application organizations'
// Endorsement policies (only when there are application organizations);
// BlockValidation by ANY orderer organization's Writers.
func DefaultPolicies(hasApplicationOrgs bool) map[string]PolicyDef {
	p := map[string]PolicyDef{
		PolicyReaders:         {Rule: "ANY Readers", Scope: ScopeChannel},
		PolicyWriters:         {Rule: "ANY Writers", Scope: ScopeChannel},
		PolicyAdmins:          {Rule: "MAJORITY Admins", Scope: ScopeOrderer},
		PolicyBlockValidation: {Rule: "ANY Writers", Scope: ScopeOrderer},
	}
	if hasApplicationOrgs {
		p[PolicyAdmins] = PolicyDef{Rule: "MAJORITY Admins"}
		p[PolicyEndorsement] = PolicyDef{Rule: "MAJORITY Endorsement"}
		p[PolicyLifecycleEndorsement] = PolicyDef{Rule: "MAJORITY Endorsement"}
	}
	return p
}

// LoadDefinition reads the YAML channel definition at path. Certificate
// and CRL files it names are read relative to the file's directory. Errors
// are an *InvalidError naming the file, line and field of every problem.
func LoadDefinition(path string) (*Definition, error) {
	data, err := readLimited(path, maxDefinitionSize)
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	return parseDefinition(data, filepath.Dir(path), path)
}

// ParseDefinition reads a YAML channel definition. Certificate and CRL
// files it names are read relative to baseDir. It checks everything Config
// and Validate check, so a definition it returns converts without error.
// Unknown fields, duplicate keys and a second YAML document are errors.
// Errors are an *InvalidError naming the line and field of every problem.
func ParseDefinition(data []byte, baseDir string) (*Definition, error) {
	return parseDefinition(data, baseDir, "")
}

func parseDefinition(data []byte, baseDir, file string) (*Definition, error) {
	source := sourceDefinition
	if file != "" {
		source = file
	}
	var p problems
	if len(data) > maxDefinitionSize {
		p.addf("", "%d bytes is larger than the %d bytes a definition may have", len(data), maxDefinitionSize)
		return nil, p.err(source, file != "")
	}
	root, err := parseYAMLDocument(data)
	if err != nil {
		p.add("", 0, err)
		return nil, p.err(source, file != "")
	}
	d := &Definition{source: file}
	dec := newNodeDecoder(&p)
	dec.decodeRoot(root, d)
	if !p.empty() {
		return nil, p.err(source, file != "")
	}
	d.lines = dec.lines
	d.readFiles(baseDir, &p)
	d.check(&p)
	if !p.empty() {
		return nil, d.invalid(&p)
	}
	return d, nil
}

// readFiles reads every certificate and CRL the definition gives as a file
// path, relative to baseDir.
func (d *Definition) readFiles(baseDir string, p *problems) {
	read := func(path string, pem *PEM) {
		if pem.Path == "" || pem.Data != nil {
			return
		}
		name := pem.Path
		if !filepath.IsAbs(name) {
			name = filepath.Join(baseDir, name)
		}
		data, err := readLimited(name, maxPEMFileSize)
		if err != nil {
			// Name the file as the definition wrote it.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("read %s: %w", pem.Path, pe.Err)
			}
			p.add(path, d.lines[path], err)
			return
		}
		pem.Data = data
	}
	readAll := func(path string, pems []PEM) {
		for i := range pems {
			read(index(path, i), &pems[i])
		}
	}
	for _, list := range []struct {
		path string
		orgs []OrganizationDef
	}{{"organizations", d.Organizations}, {"ordererOrganizations", d.OrdererOrganizations}} {
		for i := range list.orgs {
			o := &list.orgs[i]
			path := index(list.path, i)
			readAll(join(path, "rootCerts"), o.RootCerts)
			readAll(join(path, "intermediateCerts"), o.IntermediateCerts)
			readAll(join(path, "tlsRootCerts"), o.TLSRootCerts)
			readAll(join(path, "tlsIntermediateCerts"), o.TLSIntermediateCerts)
			readAll(join(path, "crls"), o.CRLs)
		}
	}
	for i := range d.Consensus.Consenters {
		c := &d.Consensus.Consenters[i]
		path := index("consensus.consenters", i)
		read(join(path, "signingCert"), &c.SigningCert)
		read(join(path, "tlsCert"), &c.TLSCert)
	}
}

// readLimited reads a file of at most limit bytes.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return data, nil
}

// Config converts the definition into a channel configuration, with the
// defaults applied, and validates it (see Validate). Certificates given as
// file paths must have been read (ParseDefinition and LoadDefinition do
// so). Errors are an *InvalidError naming the field of every problem.
func (d *Definition) Config() (*configpb.ChannelConfig, error) {
	var p problems
	cfg := d.check(&p)
	if !p.empty() {
		return nil, d.invalid(&p)
	}
	return cfg, nil
}

// check converts the definition and validates the result, adding to p
// every problem not already there at a related field.
func (d *Definition) check(p *problems) *configpb.ChannelConfig {
	var conv problems
	cfg := &configpb.ChannelConfig{
		FormatVersion: FormatVersion,
		ChannelId:     d.Name,
		Sequence:      d.Sequence,
	}
	for i := range d.Organizations {
		cfg.Organizations = append(cfg.Organizations, d.Organizations[i].config(index("organizations", i), &conv))
	}
	for i := range d.OrdererOrganizations {
		cfg.OrdererOrganizations = append(cfg.OrdererOrganizations, d.OrdererOrganizations[i].config(index("ordererOrganizations", i), &conv))
	}
	cfg.Consensus = d.Consensus.config(&conv)
	cfg.Batch = d.Batch.config(&conv)

	cfg.Policies = make(map[string]*configpb.Policy)
	for _, name := range slices.Sorted(maps.Keys(d.Policies)) {
		if cp, err := d.Policies[name].config(); err != nil {
			conv.add(join("policies", name), 0, err)
		} else {
			cfg.Policies[name] = cp
		}
	}
	for name, pd := range DefaultPolicies(len(d.Organizations) > 0) {
		if _, ok := d.Policies[name]; ok {
			continue
		}
		cp, err := pd.config()
		if err != nil {
			panic(fmt.Sprintf("channelconfig: default policy %s: %v", name, err)) // a broken constant
		}
		cfg.Policies[name] = cp
	}

	// Validate even when the conversion found problems, so that every
	// problem is reported at once, but leave out a problem at a field
	// related to one already reported: that is the same problem again, or
	// its consequence (a file that could not be read leaves a list empty).
	p.merge(conv.list)
	p.merge(validate(cfg).list)
	return cfg
}

// merge adds the problems of list that are not at a field related to one
// of p's problems: the same field, a field under it, or one above it.
func (p *problems) merge(list []*FieldError) {
	known := len(p.list)
	for _, fe := range list {
		related := slices.ContainsFunc(p.list[:known], func(q *FieldError) bool {
			return q.Path != "" && fe.Path != "" && (within(fe.Path, q.Path) || within(q.Path, fe.Path))
		})
		if !related {
			p.list = append(p.list, fe)
		}
	}
}

// invalid returns the *InvalidError of p's problems, located in the
// definition's YAML and sorted by line.
func (d *Definition) invalid(p *problems) error {
	for _, fe := range p.list {
		if fe.Line == 0 {
			fe.Line = d.lineOf(fe.Path)
		}
	}
	// In document order; what has no line (a default) last.
	slices.SortStableFunc(p.list, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(boolInt(a.Line == 0), boolInt(b.Line == 0)), cmp.Compare(a.Line, b.Line))
	})
	if d.source != "" {
		return p.err(d.source, true)
	}
	return p.err(sourceDefinition, false)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// within reports whether path is base or a field or element under it.
func within(path, base string) bool {
	rest, ok := strings.CutPrefix(path, base)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// lineOf returns the line of path in the YAML the definition came from, or
// of its closest ancestor written there; 0 when unknown.
func (d *Definition) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (o *OrganizationDef) config(path string, p *problems) *configpb.Organization {
	c := &configpb.Organization{MspId: o.MSPID}
	c.RootCerts = pemList(join(path, "rootCerts"), o.RootCerts, p)
	c.IntermediateCerts = pemList(join(path, "intermediateCerts"), o.IntermediateCerts, p)
	c.TlsRootCerts = pemList(join(path, "tlsRootCerts"), o.TLSRootCerts, p)
	c.TlsIntermediateCerts = pemList(join(path, "tlsIntermediateCerts"), o.TLSIntermediateCerts, p)
	c.Crls = pemList(join(path, "crls"), o.CRLs, p)
	if len(o.Policies) > 0 {
		c.Policies = make(map[string]*configpb.Policy, len(o.Policies))
		for _, name := range slices.Sorted(maps.Keys(o.Policies)) {
			cp, err := o.Policies[name].config()
			if err != nil {
				p.add(join(join(path, "policies"), name), 0, err)
				continue
			}
			c.Policies[name] = cp
		}
	}
	for _, e := range o.GatewayPeers {
		c.GatewayEndpoints = append(c.GatewayEndpoints, e.config())
	}
	for _, e := range o.OrdererEndpoints {
		c.OrdererEndpoints = append(c.OrdererEndpoints, e.config())
	}
	return c
}

func (e Endpoint) config() *configpb.Endpoint {
	return &configpb.Endpoint{Host: e.Host, Port: e.Port, Name: e.Name}
}

func pemList(path string, pems []PEM, p *problems) [][]byte {
	var out [][]byte
	for i := range pems {
		if b, ok := pems[i].bytes(index(path, i), p); ok {
			out = append(out, b)
		}
	}
	return out
}

// bytes returns the PEM's content, or reports that its file was not read.
func (pm *PEM) bytes(path string, p *problems) ([]byte, bool) {
	if pm.Data == nil && pm.Path != "" {
		p.addf(path, "file %s was not read (use LoadDefinition or ParseDefinition)", pm.Path)
		return nil, false
	}
	if len(pm.Data) == 0 {
		p.addf(path, "missing (want a file path or an inline PEM block)")
		return nil, false
	}
	return bytes.Clone(pm.Data), true
}

func (c *ConsensusDef) config(p *problems) *configpb.Consensus {
	out := &configpb.Consensus{Type: c.Type, NextConsenterId: c.NextConsenterID}
	if out.Type == "" {
		out.Type = DefaultConsensusType
	}
	var maxID uint64
	for i := range c.Consenters {
		cd := &c.Consenters[i]
		path := index("consensus.consenters", i)
		cc := &configpb.Consenter{Id: cd.ID, MspId: cd.MSPID, Host: cd.Host, Port: cd.Port}
		cc.SigningCert, _ = cd.SigningCert.bytes(join(path, "signingCert"), p)
		cc.TlsCert, _ = cd.TLSCert.bytes(join(path, "tlsCert"), p)
		out.Consenters = append(out.Consenters, cc)
		maxID = max(maxID, cd.ID)
	}
	if out.NextConsenterId == 0 && maxID < math.MaxUint64 {
		out.NextConsenterId = maxID + 1
	}
	r := c.Raft
	out.Raft = &configpb.RaftOptions{
		TickIntervalMs:        millis("consensus.raft.tickInterval", r.TickInterval, DefaultTickInterval, p),
		ElectionTick:          orDefault(r.ElectionTick, DefaultElectionTick),
		HeartbeatTick:         orDefault(r.HeartbeatTick, DefaultHeartbeatTick),
		MaxInflightBlocks:     orDefault(r.MaxInflightBlocks, DefaultMaxInflightBlocks),
		SnapshotIntervalBytes: uint64(orDefault(r.SnapshotIntervalBytes, DefaultSnapshotIntervalBytes)),
	}
	return out
}

func (b *BatchDef) config(p *problems) *configpb.BatchConfig {
	return &configpb.BatchConfig{
		MaxMessageCount:   orDefault(b.MaxMessageCount, DefaultMaxMessageCount),
		AbsoluteMaxBytes:  bytes32("batch.absoluteMaxBytes", b.AbsoluteMaxBytes, DefaultAbsoluteMaxBytes, p),
		PreferredMaxBytes: bytes32("batch.preferredMaxBytes", b.PreferredMaxBytes, DefaultPreferredMaxBytes, p),
		TimeoutMs:         millis("batch.timeout", b.Timeout, DefaultBatchTimeout, p),
	}
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// millis converts a duration to whole milliseconds for the configuration.
func millis(path string, d Duration, def time.Duration, p *problems) uint32 {
	v := time.Duration(d)
	if v == 0 {
		v = def
	}
	switch {
	case v < 0:
		p.addf(path, "%v is negative", v)
	case v%time.Millisecond != 0:
		p.addf(path, "%v is not a whole number of milliseconds", v)
	case v/time.Millisecond > math.MaxUint32:
		p.addf(path, "%v is longer than the %v the configuration can hold", v, time.Duration(math.MaxUint32)*time.Millisecond)
	default:
		return uint32(v / time.Millisecond)
	}
	return 0
}

// bytes32 converts a size for a 32-bit field of the configuration.
func bytes32(path string, s, def ByteSize, p *problems) uint32 {
	if s == 0 {
		s = def
	}
	if s > math.MaxUint32 {
		p.addf(path, "%s is larger than the %s the configuration can hold", s, ByteSize(math.MaxUint32))
		return 0
	}
	return uint32(s)
}

// config converts the policy for the configuration: canonical signature
// text, or an implicit policy with its scope.
func (pd PolicyDef) config() (*configpb.Policy, error) {
	cp, err := policy.ParseConfigPolicy(pd.Rule)
	if err != nil {
		return nil, err
	}
	ip := cp.GetImplicit()
	if ip == nil {
		if pd.Scope != "" {
			return nil, fmt.Errorf("scope %q applies only to implicit policies such as \"ANY Readers\", not to signature policies", pd.Scope)
		}
		return cp, nil
	}
	switch pd.Scope {
	case "", ScopeApplication:
		ip.Scope = configpb.ImplicitPolicy_APPLICATION
	case ScopeOrderer:
		ip.Scope = configpb.ImplicitPolicy_ORDERER
	case ScopeChannel:
		ip.Scope = configpb.ImplicitPolicy_CHANNEL
	default:
		return nil, fmt.Errorf("unknown scope %q (want %s, %s or %s)", pd.Scope, ScopeApplication, ScopeOrderer, ScopeChannel)
	}
	return cp, nil
}

// DefinitionFromConfig returns the definition of a configuration, every
// value explicit and every certificate inline, so that printing it shows
// the whole configuration and parsing it back gives the same
// configuration. It does not validate cfg.
func DefinitionFromConfig(cfg *configpb.ChannelConfig) *Definition {
	d := &Definition{Name: cfg.GetChannelId(), Sequence: cfg.GetSequence()}
	for _, o := range cfg.GetOrganizations() {
		d.Organizations = append(d.Organizations, orgDefinition(o))
	}
	for _, o := range cfg.GetOrdererOrganizations() {
		d.OrdererOrganizations = append(d.OrdererOrganizations, orgDefinition(o))
	}
	cons := cfg.GetConsensus()
	d.Consensus = ConsensusDef{Type: cons.GetType(), NextConsenterID: cons.GetNextConsenterId()}
	for _, c := range cons.GetConsenters() {
		d.Consensus.Consenters = append(d.Consensus.Consenters, ConsenterDef{
			ID:          c.GetId(),
			MSPID:       c.GetMspId(),
			Host:        c.GetHost(),
			Port:        c.GetPort(),
			SigningCert: inlinePEM(c.GetSigningCert()),
			TLSCert:     inlinePEM(c.GetTlsCert()),
		})
	}
	r := cons.GetRaft()
	d.Consensus.Raft = RaftDef{
		TickInterval:          Duration(time.Duration(r.GetTickIntervalMs()) * time.Millisecond),
		ElectionTick:          r.GetElectionTick(),
		HeartbeatTick:         r.GetHeartbeatTick(),
		MaxInflightBlocks:     r.GetMaxInflightBlocks(),
		SnapshotIntervalBytes: ByteSize(r.GetSnapshotIntervalBytes()),
	}
	b := cfg.GetBatch()
	d.Batch = BatchDef{
		MaxMessageCount:   b.GetMaxMessageCount(),
		AbsoluteMaxBytes:  ByteSize(b.GetAbsoluteMaxBytes()),
		PreferredMaxBytes: ByteSize(b.GetPreferredMaxBytes()),
		Timeout:           Duration(time.Duration(b.GetTimeoutMs()) * time.Millisecond),
	}
	d.Policies = policyDefinitions(cfg.GetPolicies())
	return d
}

func orgDefinition(o *configpb.Organization) OrganizationDef {
	d := OrganizationDef{
		MSPID:                o.GetMspId(),
		RootCerts:            inlinePEMs(o.GetRootCerts()),
		IntermediateCerts:    inlinePEMs(o.GetIntermediateCerts()),
		TLSRootCerts:         inlinePEMs(o.GetTlsRootCerts()),
		TLSIntermediateCerts: inlinePEMs(o.GetTlsIntermediateCerts()),
		CRLs:                 inlinePEMs(o.GetCrls()),
		Policies:             policyDefinitions(o.GetPolicies()),
	}
	for _, e := range o.GetGatewayEndpoints() {
		d.GatewayPeers = append(d.GatewayPeers, endpointDefinition(e))
	}
	for _, e := range o.GetOrdererEndpoints() {
		d.OrdererEndpoints = append(d.OrdererEndpoints, endpointDefinition(e))
	}
	return d
}

func endpointDefinition(e *configpb.Endpoint) Endpoint {
	return Endpoint{Host: e.GetHost(), Port: e.GetPort(), Name: e.GetName()}
}

func inlinePEM(b []byte) PEM { return PEM{Data: bytes.Clone(b)} }

func inlinePEMs(list [][]byte) []PEM {
	var out []PEM
	for _, b := range list {
		out = append(out, inlinePEM(b))
	}
	return out
}

func policyDefinitions(m map[string]*configpb.Policy) map[string]PolicyDef {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]PolicyDef, len(m))
	for name, p := range m {
		out[name] = policyDefinition(p)
	}
	return out
}

// policyDefinition writes a policy as a definition does. A policy that is
// neither kind is written empty, which a definition refuses.
func policyDefinition(p *configpb.Policy) PolicyDef {
	switch r := p.GetRule().(type) {
	case *configpb.Policy_Signature:
		return PolicyDef{Rule: r.Signature}
	case *configpb.Policy_Implicit:
		ip := r.Implicit
		pd := PolicyDef{Rule: ip.GetRule().String() + " " + ip.GetSubPolicy()}
		switch ip.GetScope() {
		case configpb.ImplicitPolicy_APPLICATION:
		case configpb.ImplicitPolicy_ORDERER:
			pd.Scope = ScopeOrderer
		case configpb.ImplicitPolicy_CHANNEL:
			pd.Scope = ScopeChannel
		default:
			pd.Scope = ip.GetScope().String()
		}
		return pd
	}
	return PolicyDef{}
}

// Marshal writes the definition as YAML, as ParseDefinition reads it:
// certificates as the paths they were read from, or inline.
func (d *Definition) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("channelconfig: marshal definition: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("channelconfig: marshal definition: %w", err)
	}
	return buf.Bytes(), nil
}
