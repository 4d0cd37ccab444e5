package channelconfig

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/identity/pemparse"
	"github.com/chorusledger/chorus/internal/policy"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// BundleOptions are what a node adds to a configuration to use it.
type BundleOptions struct {
	// Now is the clock certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
	// SignatureCache, if not nil, remembers the signatures CheckSigned
	// verified. A node shares one across its channels and configurations.
	SignatureCache *identity.SignatureCache
}

// Bundle is a channel configuration made ready to use: an MSP per
// organization, the identity manager over them, the compiled channel
// policies, and the consenters, endpoints and limits in Go types. A
// configuration change builds a new Bundle. A Bundle is immutable and safe
// for concurrent use.
type Bundle struct {
	cfg        *configpb.ChannelConfig
	manager    *identity.Manager
	policies   map[string]policy.Policy
	orgs       []*Organization
	orgByID    map[string]*Organization
	consenters []Consenter
	batch      BatchConfig
	raft       RaftOptions
}

// Organization is one organization of a channel, application or orderer.
// It is immutable and safe for concurrent use.
type Organization struct {
	mspID                string
	typ                  policy.OrgType
	msp                  *identity.MSP
	tlsRootCerts         [][]byte
	tlsIntermediateCerts [][]byte
	tlsPool              *x509.CertPool
	gatewayPeers         []Endpoint
	ordererEndpoints     []Endpoint
}

// MSPID returns the organization's MSP id.
func (o *Organization) MSPID() string { return o.mspID }

// Type says whether the organization is an application or an orderer
// organization.
func (o *Organization) Type() policy.OrgType { return o.typ }

// MSP returns the organization's membership service provider.
func (o *Organization) MSP() *identity.MSP { return o.msp }

// TLSRootCerts returns the PEM certificates of the organization's TLS root
// CAs.
func (o *Organization) TLSRootCerts() [][]byte { return clonePEMs(o.tlsRootCerts) }

// TLSIntermediateCerts returns the PEM certificates of the organization's
// TLS intermediate CAs.
func (o *Organization) TLSIntermediateCerts() [][]byte { return clonePEMs(o.tlsIntermediateCerts) }

// TLSCertPool returns a pool of the organization's TLS root and
// intermediate CAs, as Fabric builds it, to verify its nodes' TLS
// certificates; nil when the organization lists none.
func (o *Organization) TLSCertPool() *x509.CertPool {
	if o.tlsPool == nil {
		return nil
	}
	return o.tlsPool.Clone()
}

// GatewayPeers returns the Gateway peers of an application organization.
func (o *Organization) GatewayPeers() []Endpoint { return slices.Clone(o.gatewayPeers) }

// OrdererEndpoints returns the Broadcast and Deliver endpoints of an
// orderer organization.
func (o *Organization) OrdererEndpoints() []Endpoint { return slices.Clone(o.ordererEndpoints) }

// Address returns "host:port".
func (e Endpoint) Address() string {
	return net.JoinHostPort(e.Host, strconv.FormatUint(uint64(e.Port), 10))
}

// ParseEndpoint reads "host:port", the form Address writes, into an
// Endpoint without a name.
func ParseEndpoint(address string) (Endpoint, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return Endpoint{}, fmt.Errorf("channelconfig: endpoint %q: %w", address, err)
	}
	if host == "" {
		return Endpoint{}, fmt.Errorf("channelconfig: endpoint %q names no host", address)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return Endpoint{}, fmt.Errorf("channelconfig: endpoint %q: port %q is not a number from 1 to 65535", address, port)
	}
	return Endpoint{Host: host, Port: uint32(n)}, nil
}

// OrdererEndpoint is an orderer endpoint and the organization running it.
type OrdererEndpoint struct {
	MSPID string
	Endpoint
}

// Consenter is one orderer taking part in the channel's consensus. Its
// byte slices and certificates are shared: callers must not modify them.
type Consenter struct {
	ID    uint64
	MSPID string
	// Endpoint is the cluster address.
	Endpoint Endpoint
	// SigningCertPEM and SigningCert are the certificate that signs its
	// blocks.
	SigningCertPEM []byte
	SigningCert    *x509.Certificate
	// TLSCertPEM and TLSCert are the certificate it presents on cluster
	// links; orderers recognise each other by its public key.
	TLSCertPEM []byte
	TLSCert    *x509.Certificate
}

// BatchConfig drives the block cutter.
type BatchConfig struct {
	MaxMessageCount   uint32
	AbsoluteMaxBytes  uint32 // also the largest envelope admitted
	PreferredMaxBytes uint32
	Timeout           time.Duration
}

// RaftOptions are the channel's Raft parameters.
type RaftOptions struct {
	TickInterval          time.Duration
	ElectionTick          uint32
	HeartbeatTick         uint32
	MaxInflightBlocks     uint32
	SnapshotIntervalBytes uint64
}

// NewBundle validates cfg (see Validate) and builds its Bundle. The Bundle
// keeps its own copy of cfg.
func NewBundle(cfg *configpb.ChannelConfig, opts BundleOptions) (*Bundle, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	cfg = proto.CloneOf(cfg)
	b := &Bundle{cfg: cfg, orgByID: make(map[string]*Organization)}

	var msps []*identity.MSP
	add := func(list []*configpb.Organization, typ policy.OrgType) error {
		for _, oc := range list {
			o, err := newOrganization(oc, typ, opts)
			if err != nil {
				return err
			}
			b.orgs = append(b.orgs, o)
			b.orgByID[o.mspID] = o
			msps = append(msps, o.msp)
		}
		return nil
	}
	if err := add(cfg.GetOrganizations(), policy.ApplicationOrg); err != nil {
		return nil, err
	}
	if err := add(cfg.GetOrdererOrganizations(), policy.OrdererOrg); err != nil {
		return nil, err
	}
	var err error
	if b.manager, err = identity.NewManager(msps...); err != nil {
		return nil, wrap("channel "+cfg.GetChannelId(), err)
	}
	if b.policies, err = policy.ChannelPolicies(cfg); err != nil {
		return nil, wrap("channel "+cfg.GetChannelId(), err)
	}

	for _, c := range cfg.GetConsensus().GetConsenters() {
		signing, err := parseLeafPEM(c.GetSigningCert())
		if err != nil {
			return nil, fmt.Errorf("channelconfig: consenter %d: signing certificate: %w", c.GetId(), err)
		}
		tls, err := parseLeafPEM(c.GetTlsCert())
		if err != nil {
			return nil, fmt.Errorf("channelconfig: consenter %d: TLS certificate: %w", c.GetId(), err)
		}
		b.consenters = append(b.consenters, Consenter{
			ID:             c.GetId(),
			MSPID:          c.GetMspId(),
			Endpoint:       Endpoint{Host: c.GetHost(), Port: c.GetPort()},
			SigningCertPEM: c.GetSigningCert(),
			SigningCert:    signing,
			TLSCertPEM:     c.GetTlsCert(),
			TLSCert:        tls,
		})
	}
	r := cfg.GetConsensus().GetRaft()
	b.raft = RaftOptions{
		TickInterval:          time.Duration(r.GetTickIntervalMs()) * time.Millisecond,
		ElectionTick:          r.GetElectionTick(),
		HeartbeatTick:         r.GetHeartbeatTick(),
		MaxInflightBlocks:     r.GetMaxInflightBlocks(),
		SnapshotIntervalBytes: r.GetSnapshotIntervalBytes(),
	}
	bc := cfg.GetBatch()
	b.batch = BatchConfig{
		MaxMessageCount:   bc.GetMaxMessageCount(),
		AbsoluteMaxBytes:  bc.GetAbsoluteMaxBytes(),
		PreferredMaxBytes: bc.GetPreferredMaxBytes(),
		Timeout:           time.Duration(bc.GetTimeoutMs()) * time.Millisecond,
	}
	return b, nil
}

func newOrganization(oc *configpb.Organization, typ policy.OrgType, opts BundleOptions) (*Organization, error) {
	msp, err := identity.NewMSP(identity.MSPConfig{
		ID:                oc.GetMspId(),
		RootCerts:         oc.GetRootCerts(),
		IntermediateCerts: oc.GetIntermediateCerts(),
		CRLs:              oc.GetCrls(),
		Now:               opts.Now,
		SignatureCache:    opts.SignatureCache,
	})
	if err != nil {
		return nil, wrap("organization "+oc.GetMspId(), err)
	}
	o := &Organization{
		mspID:                oc.GetMspId(),
		typ:                  typ,
		msp:                  msp,
		tlsRootCerts:         oc.GetTlsRootCerts(),
		tlsIntermediateCerts: oc.GetTlsIntermediateCerts(),
	}
	if len(o.tlsRootCerts)+len(o.tlsIntermediateCerts) > 0 {
		o.tlsPool = x509.NewCertPool()
		for _, pems := range [][][]byte{o.tlsRootCerts, o.tlsIntermediateCerts} {
			for _, p := range pems {
				certs, err := pemparse.Certificates(p)
				if err != nil {
					return nil, fmt.Errorf("channelconfig: organization %s: TLS CA: %w", o.mspID, err)
				}
				for _, c := range certs {
					o.tlsPool.AddCert(c)
				}
			}
		}
	}
	for _, e := range oc.GetGatewayEndpoints() {
		o.gatewayPeers = append(o.gatewayPeers, endpointDefinition(e))
	}
	for _, e := range oc.GetOrdererEndpoints() {
		o.ordererEndpoints = append(o.ordererEndpoints, endpointDefinition(e))
	}
	return o, nil
}

func clonePEMs(list [][]byte) [][]byte {
	out := make([][]byte, len(list))
	for i, b := range list {
		out[i] = bytes.Clone(b)
	}
	return out
}

// Config returns the configuration. It is the Bundle's own: callers must
// not modify it.
func (b *Bundle) Config() *configpb.ChannelConfig { return b.cfg }

// ChannelID returns the channel id.
func (b *Bundle) ChannelID() string { return b.cfg.GetChannelId() }

// Sequence returns the configuration's sequence number.
func (b *Bundle) Sequence() uint64 { return b.cfg.GetSequence() }

// Manager returns the identity manager over every organization's MSP.
func (b *Bundle) Manager() *identity.Manager { return b.manager }

// Policy returns the channel policy of the given name.
func (b *Bundle) Policy(name string) (policy.Policy, bool) {
	p, ok := b.policies[name]
	return p, ok
}

// PolicyNames returns the names of the channel policies, sorted.
func (b *Bundle) PolicyNames() []string { return slices.Sorted(maps.Keys(b.policies)) }

// Organizations returns the application organizations, then the orderer
// organizations, in configuration order.
func (b *Bundle) Organizations() []*Organization { return slices.Clone(b.orgs) }

// Organization returns the organization of the given MSP id.
func (b *Bundle) Organization(mspID string) (*Organization, bool) {
	o, ok := b.orgByID[mspID]
	return o, ok
}

// Consenters returns the consenters in configuration order.
func (b *Bundle) Consenters() []Consenter { return slices.Clone(b.consenters) }

// ConsenterByID returns the consenter of the given Raft id.
func (b *Bundle) ConsenterByID(id uint64) (Consenter, bool) {
	for _, c := range b.consenters {
		if c.ID == id {
			return c, true
		}
	}
	return Consenter{}, false
}

// ConsensusType returns the consensus protocol, "raft".
func (b *Bundle) ConsensusType() string { return b.cfg.GetConsensus().GetType() }

// Raft returns the Raft options.
func (b *Bundle) Raft() RaftOptions { return b.raft }

// Batch returns the block cutting parameters.
func (b *Bundle) Batch() BatchConfig { return b.batch }

// OrdererEndpoints returns the Broadcast and Deliver endpoints of every
// orderer organization, in configuration order.
func (b *Bundle) OrdererEndpoints() []OrdererEndpoint {
	var out []OrdererEndpoint
	for _, o := range b.orgs {
		for _, e := range o.ordererEndpoints {
			out = append(out, OrdererEndpoint{MSPID: o.mspID, Endpoint: e})
		}
	}
	return out
}

// GatewayEndpoints returns the Gateway peers of the organization of the
// given MSP id; none for an unknown organization.
func (b *Bundle) GatewayEndpoints(mspID string) []Endpoint {
	if o, ok := b.orgByID[mspID]; ok {
		return o.GatewayPeers()
	}
	return nil
}

// SignedData is one signature to check: Signature is Identity's signature
// over Data. Identity is a serialized msp.SerializedIdentity, as a creator
// or an endorser carries it.
type SignedData struct {
	Data      []byte
	Identity  []byte
	Signature []byte
}

// CheckSigned checks that the signatures of data meet the channel policy
// policyName. Each identity must be valid on the channel now (known MSP,
// chaining to its CAs, within its validity period, not revoked) and each
// signature must verify, through the signature cache; one that does not
// fails the whole check with a *SignatureError (matching ErrBadSignature),
// rather than being dropped as Fabric does, so that a forged or broken
// request is told apart from an honest one that lacks authority. Then the
// policy is evaluated over the signers, each distinct public key counting
// once; when they do not meet it the error is a *PolicyError (matching
// ErrPolicyNotSatisfied) that unwraps to the policy's
// *policy.NotSatisfiedError, naming the missing principals. An unknown
// policy name gives an error matching ErrUnknownPolicy.
func (b *Bundle) CheckSigned(policyName string, data ...SignedData) error {
	p, ok := b.policies[policyName]
	if !ok {
		return fmt.Errorf("%w %q in channel %s", ErrUnknownPolicy, policyName, b.ChannelID())
	}
	signers := make([]policy.Signer, 0, len(data))
	for i, sd := range data {
		id, err := b.manager.DeserializeIdentity(sd.Identity)
		if err != nil {
			mspID, _, _ := identity.Deserialize(sd.Identity)
			return &SignatureError{Policy: policyName, Index: i, MSPID: mspID, Err: err}
		}
		if err := id.Verify(sd.Data, sd.Signature); err != nil {
			return &SignatureError{
				Policy: policyName,
				Index:  i,
				MSPID:  id.MSPID(),
				Err:    because("signature of "+id.String(), err),
			}
		}
		signers = append(signers, newSigner(id))
	}
	if err := p.Evaluate(signers); err != nil {
		return &PolicyError{Policy: policyName, Err: err}
	}
	return nil
}

// signer adapts an identity to policy.Signer. Its ID is the SHA-256 of the
// certificate's public key: the same key counts once, whichever PEM
// encoding or renewed certificate carries it.
type signer struct {
	id  *identity.Identity
	key string
}

func newSigner(id *identity.Identity) signer {
	sum := sha256.Sum256(id.Certificate().RawSubjectPublicKeyInfo)
	return signer{id: id, key: string(sum[:])}
}

func (s signer) ID() string                   { return s.key }
func (s signer) MSPID() string                { return s.id.MSPID() }
func (s signer) HasRole(r identity.Role) bool { return s.id.HasRole(r) }
