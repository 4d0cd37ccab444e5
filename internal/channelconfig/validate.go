package channelconfig

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/identity/pemparse"
	"github.com/chorusledger/chorus/internal/policy"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

// FormatVersion is the format of the channel configurations this build
// writes, and the newest it reads.
const FormatVersion = 1

// Limits Validate enforces.
const (
	// MaxChannelIDLength is the longest channel id, as in Fabric.
	MaxChannelIDLength = 249
	// MaxAbsoluteMaxBytes bounds batch.absoluteMaxBytes, so that a block
	// of envelopes stays below protobuf's 2 GiB message limit.
	MaxAbsoluteMaxBytes = 1 * GiB
)

// Validate checks that cfg is a channel configuration nodes can run:
//
//   - its format version is known (a configuration written by a newer
//     Chorus is refused with a message saying so) and it holds no field
//     unknown to this build;
//   - the channel id follows Fabric's rule: lowercase letters, digits, '.'
//     and '-', starting with a letter, at most 249 characters;
//   - MSP ids are well formed and unique across application and orderer
//     organizations; each organization has at least one root CA; every CA
//     certificate parses and is a CA, every intermediate chains to a root,
//     every CRL parses and is signed by a CA of its organization;
//   - Gateway peers belong to application organizations and orderer
//     endpoints to orderer organizations; every endpoint has a host and a
//     port;
//   - consensus is "raft" with at least one consenter; consenter ids are
//     positive, unique and below next_consenter_id; each consenter belongs
//     to an orderer organization, has a unique address and TLS key, a TLS
//     certificate (chaining to its organization's TLS CAs when it lists
//     any) and a signing certificate that its organization's MSP accepts
//     as an orderer;
//   - the Raft options and batch limits are sane (election tick above
//     heartbeat tick, preferred size at most the absolute size, ...);
//   - every policy compiles, signature policies are in canonical form and
//     name only the channel's organizations, organization policies are
//     signature policies, and the policies Chorus needs are present:
//     Readers, Writers, Admins and BlockValidation, plus Endorsement and
//     LifecycleEndorsement when there are application organizations.
//
// Certificates are checked at a time they are valid: an expired
// certificate does not make an old configuration invalid (its identities
// are refused when used). Validate reports every problem it finds, as an
// *InvalidError whose paths are spelled as in the YAML channel definition.
func Validate(cfg *configpb.ChannelConfig) error {
	return validate(cfg).err(sourceConfig, false)
}

// validator accumulates what the checks of one configuration learn.
type validator struct {
	p   *problems
	cfg *configpb.ChannelConfig
	// mspIDs maps every well-formed MSP id to its organization's path.
	mspIDs map[string]string
	// orgs holds the checked organizations by MSP id.
	orgs map[string]*checkedOrg
}

// checkedOrg is what the checks learned of one organization.
type checkedOrg struct {
	typ policy.OrgType
	// certsOK says every certificate and CRL of the organization parsed and
	// fits; msp and the TLS CAs are set only then.
	certsOK          bool
	msp              identity.MSPConfig
	tlsRoots         []*x509.Certificate
	tlsIntermediates []*x509.Certificate
}

func validate(cfg *configpb.ChannelConfig) *problems {
	v := &validator{p: &problems{}, cfg: cfg, mspIDs: make(map[string]string), orgs: make(map[string]*checkedOrg)}
	if cfg == nil {
		v.p.addf("", "no configuration")
		return v.p
	}
	switch fv := cfg.GetFormatVersion(); {
	case fv > FormatVersion:
		v.p.addf("formatVersion", "format %d was written by a newer Chorus (this build reads format %d and older): upgrade this node", fv, FormatVersion)
		return v.p
	case fv == 0:
		v.p.addf("formatVersion", "missing (want %d)", FormatVersion)
	}
	if where := unknownFields(cfg.ProtoReflect(), ""); where != "" {
		v.p.addf(where, "holds fields this build does not know: the configuration was written by a newer Chorus without a new format version")
		return v.p
	}
	if err := checkChannelID(cfg.GetChannelId()); err != nil {
		v.p.add("name", 0, err)
	}
	v.organizations()
	v.consensus()
	v.batch()
	v.policies()
	return v.p
}

// unknownFields returns the path of the first message, depth first, that
// holds unknown fields, or "" when none does.
func unknownFields(m protoreflect.Message, path string) string {
	if len(m.GetUnknown()) > 0 {
		if path == "" {
			return "(top level)"
		}
		return path
	}
	var found string
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := join(path, string(fd.Name()))
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < val.List().Len() && found == ""; i++ {
				found = unknownFields(val.List().Get(i).Message(), index(name, i))
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			val.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				found = unknownFields(mv.Message(), join(name, k.String()))
				return found == ""
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			found = unknownFields(val.Message(), name)
		}
		return found == ""
	})
	return found
}

// checkChannelID applies Fabric's rule for channel names.
func checkChannelID(id string) error {
	switch {
	case id == "":
		return errors.New("missing (want a channel name such as \"mychannel\")")
	case len(id) > MaxChannelIDLength:
		return fmt.Errorf("%d characters, more than the %d a channel name may have", len(id), MaxChannelIDLength)
	case id[0] < 'a' || id[0] > 'z':
		return fmt.Errorf("%q must start with a lowercase letter", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("%q: invalid character %q (want lowercase letters, digits, '.' and '-')", id, c)
		}
	}
	return nil
}

// checkMSPID accepts the MSP ids the policy language can name: ASCII
// letters, digits, '.' and '-'.
func checkMSPID(id string) error {
	if id == "" {
		return errors.New("missing (want an MSP id such as \"Org1MSP\")")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("%q: invalid character %q (want letters, digits, '.' and '-')", id, c)
		}
	}
	return nil
}

// checkPolicyName accepts the policy names implicit policies can refer to.
func checkPolicyName(name string) error {
	if name == "" {
		return errors.New("empty policy name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("invalid character %q in policy name %q (want letters, digits, '_', '-' and '.')", c, name)
		}
	}
	return nil
}

func (v *validator) organizations() {
	lists := []struct {
		path string
		orgs []*configpb.Organization
		typ  policy.OrgType
	}{
		{"organizations", v.cfg.GetOrganizations(), policy.ApplicationOrg},
		{"ordererOrganizations", v.cfg.GetOrdererOrganizations(), policy.OrdererOrg},
	}
	// First the MSP ids, which policies anywhere may name.
	for _, l := range lists {
		for i, o := range l.orgs {
			path := join(index(l.path, i), "mspID")
			id := o.GetMspId()
			if err := checkMSPID(id); err != nil {
				v.p.add(path, 0, err)
				continue
			}
			if prev, dup := v.mspIDs[id]; dup {
				v.p.addf(path, "%s is also the MSP id of %s", id, prev)
				continue
			}
			v.mspIDs[id] = index(l.path, i)
		}
	}
	for _, l := range lists {
		for i, o := range l.orgs {
			path := index(l.path, i)
			c := v.org(o, path, l.typ)
			if v.mspIDs[o.GetMspId()] == path {
				v.orgs[o.GetMspId()] = c
			}
		}
	}
	if len(v.cfg.GetOrdererOrganizations()) == 0 {
		v.p.addf("ordererOrganizations", "none (at least one organization must run the ordering service)")
	}
}

// org checks one organization.
func (v *validator) org(o *configpb.Organization, path string, typ policy.OrgType) *checkedOrg {
	c := &checkedOrg{typ: typ}
	before := len(v.p.list)

	if len(o.GetRootCerts()) == 0 {
		v.p.addf(join(path, "rootCerts"), "none (want at least one root CA certificate)")
	}
	// Chains and CRL signers are checked only against CAs that all parsed:
	// a CA that did not is reported once, not again through each
	// certificate it would have issued.
	roots, rootsOK := v.caCerts(join(path, "rootCerts"), o.GetRootCerts())
	intermediates, intermediatesOK := v.caCerts(join(path, "intermediateCerts"), o.GetIntermediateCerts())
	if rootsOK {
		v.checkChains(join(path, "intermediateCerts"), o.GetIntermediateCerts(), roots, intermediates)
	}
	tlsRoots, tlsRootsOK := v.caCerts(join(path, "tlsRootCerts"), o.GetTlsRootCerts())
	tlsIntermediates, _ := v.caCerts(join(path, "tlsIntermediateCerts"), o.GetTlsIntermediateCerts())
	if tlsRootsOK {
		v.checkChains(join(path, "tlsIntermediateCerts"), o.GetTlsIntermediateCerts(), tlsRoots, tlsIntermediates)
	}
	v.crls(join(path, "crls"), o.GetCrls(), append(slices.Clone(roots), intermediates...), rootsOK && intermediatesOK)

	if len(v.p.list) == before && checkMSPID(o.GetMspId()) == nil {
		// What the MSP itself checks, as a last guard.
		c.msp = identity.MSPConfig{
			ID:                o.GetMspId(),
			RootCerts:         o.GetRootCerts(),
			IntermediateCerts: o.GetIntermediateCerts(),
			CRLs:              o.GetCrls(),
		}
		if _, err := identity.NewMSP(c.msp); err != nil {
			v.p.add(path, 0, err)
		} else {
			c.certsOK = true
			c.tlsRoots, c.tlsIntermediates = tlsRoots, tlsIntermediates
		}
	}

	v.orgPolicies(join(path, "policies"), o, typ)

	switch typ {
	case policy.ApplicationOrg:
		if len(o.GetOrdererEndpoints()) > 0 {
			v.p.addf(join(path, "ordererEndpoints"), "an application organization runs no orderers; list orderer endpoints under ordererOrganizations")
		}
	case policy.OrdererOrg:
		if len(o.GetGatewayEndpoints()) > 0 {
			v.p.addf(join(path, "gatewayPeers"), "an orderer organization runs no Gateway peers; list them under organizations")
		}
	}
	for i, e := range o.GetGatewayEndpoints() {
		v.endpoint(index(join(path, "gatewayPeers"), i), e.GetHost(), e.GetPort())
	}
	for i, e := range o.GetOrdererEndpoints() {
		v.endpoint(index(join(path, "ordererEndpoints"), i), e.GetHost(), e.GetPort())
	}
	return c
}

// caCerts parses a list of PEM CA certificates, each element of which may
// hold several, and reports whether all parsed and are CAs.
func (v *validator) caCerts(path string, pems [][]byte) ([]*x509.Certificate, bool) {
	var out []*x509.Certificate
	ok := true
	for i, b := range pems {
		certs, err := pemparse.Certificates(b)
		if err != nil {
			v.p.add(index(path, i), 0, err)
			ok = false
			continue
		}
		for _, c := range certs {
			if !c.IsCA {
				v.p.addf(index(path, i), "certificate %s is not a CA certificate (basic constraints CA:TRUE missing)", certName(c))
				ok = false
			}
		}
		out = append(out, certs...)
	}
	return out, ok
}

// checkChains checks that every intermediate CA chains to a root, at a time
// it is valid.
func (v *validator) checkChains(path string, pems [][]byte, roots, intermediates []*x509.Certificate) {
	if len(roots) == 0 {
		if len(pems) > 0 {
			v.p.addf(path, "intermediate CAs without a root CA to chain to")
		}
		return
	}
	for i, b := range pems {
		certs, err := pemparse.Certificates(b)
		if err != nil {
			continue // reported by caCerts
		}
		for _, c := range certs {
			if err := verifyChain(c, roots, intermediates); err != nil {
				v.p.addf(index(path, i), "intermediate CA %s does not chain to a root CA of the organization: %v", certName(c), err)
			}
		}
	}
}

// crls checks that every CRL parses and, when casKnown, that it is signed
// by one of cas.
func (v *validator) crls(path string, pems [][]byte, cas []*x509.Certificate, casKnown bool) {
	for i, b := range pems {
		path := index(path, i)
		crls, err := pemparse.RevocationLists(b)
		if err != nil {
			v.p.add(path, 0, err)
			continue
		}
		for _, crl := range crls {
			signed := slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return crl.CheckSignatureFrom(ca) == nil })
			if casKnown && !signed {
				v.p.addf(path, "CRL issued by %q is not signed by a CA of the organization", crl.Issuer.String())
			}
		}
	}
}

func (v *validator) orgPolicies(path string, o *configpb.Organization, typ policy.OrgType) {
	ps := o.GetPolicies()
	before := len(v.p.list)
	for _, name := range slices.Sorted(maps.Keys(ps)) {
		ppath := join(path, name)
		if err := checkPolicyName(name); err != nil {
			v.p.add(ppath, 0, err)
			continue
		}
		if ps[name].GetImplicit() != nil {
			v.p.addf(ppath, "an organization's policies must be signature policies, such as \"OR('%s.admin')\"", o.GetMspId())
			continue
		}
		v.signaturePolicy(ppath, ps[name])
	}
	if len(v.p.list) == before && checkMSPID(o.GetMspId()) == nil {
		if _, err := policy.OrganizationFromConfig(o, typ); err != nil {
			v.p.add(path, 0, err)
		}
	}
}

// signaturePolicy checks a signature policy: it parses, is written in
// canonical form, and names only organizations of the channel.
func (v *validator) signaturePolicy(path string, p *configpb.Policy) {
	sig, ok := p.GetRule().(*configpb.Policy_Signature)
	if !ok {
		v.p.addf(path, "empty policy (neither a signature nor an implicit policy)")
		return
	}
	sp, err := policy.ParseSignaturePolicy(sig.Signature)
	if err != nil {
		v.p.add(path, 0, err)
		return
	}
	if sp.String() != sig.Signature {
		v.p.addf(path, "%q is not in canonical form (want %q)", sig.Signature, sp.String())
	}
	var unknown []string
	for _, pr := range sp.Principals() {
		if _, ok := v.mspIDs[pr.MSPID]; !ok && !slices.Contains(unknown, pr.MSPID) {
			unknown = append(unknown, pr.MSPID)
		}
	}
	if len(unknown) > 0 {
		v.p.addf(path, "names %s, not an organization of the channel", strings.Join(unknown, ", "))
	}
}

// endpoint checks a host and port.
func (v *validator) endpoint(path, host string, port uint32) {
	if err := checkHost(host); err != nil {
		v.p.add(join(path, "host"), 0, err)
	}
	if port == 0 || port > 65535 {
		v.p.addf(join(path, "port"), "%d is not a port (want 1 to 65535)", port)
	}
}

func checkHost(host string) error {
	switch {
	case host == "":
		return errors.New("missing")
	case strings.Contains(host, "://"):
		return fmt.Errorf("%q: want a host name or IP address, without a scheme", host)
	case strings.ContainsAny(host, " \t\r\n/"):
		return fmt.Errorf("%q: not a host name or IP address", host)
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		return fmt.Errorf("%q: want the host alone, with the port in its own field", host)
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:%", c) >= 0) {
			return fmt.Errorf("%q: invalid character %q in a host name or IP address", host, c)
		}
	}
	return nil
}

func (v *validator) consensus() {
	c := v.cfg.GetConsensus()
	if c == nil {
		v.p.addf("consensus", "missing")
		return
	}
	switch c.GetType() {
	case "raft":
	case "":
		v.p.addf("consensus.type", "missing (want raft)")
	default:
		v.p.addf("consensus.type", "%q is not supported (want raft)", c.GetType())
	}
	if len(c.GetConsenters()) == 0 {
		v.p.addf("consensus.consenters", "none (want at least one)")
	}
	ids := make(map[uint64]string)
	addrs := make(map[string]string)
	tlsKeys := make(map[string]string)
	var maxID uint64
	for i, cs := range c.GetConsenters() {
		path := index("consensus.consenters", i)
		switch prev, dup := ids[cs.GetId()]; {
		case cs.GetId() == 0:
			v.p.addf(join(path, "id"), "missing (want a positive id, never reused)")
		case dup:
			v.p.addf(join(path, "id"), "%d is also the id of %s", cs.GetId(), prev)
		default:
			ids[cs.GetId()] = path
		}
		maxID = max(maxID, cs.GetId())

		org := v.consenterOrg(join(path, "mspID"), cs.GetMspId())

		v.endpoint(path, cs.GetHost(), cs.GetPort())
		addr := net.JoinHostPort(cs.GetHost(), strconv.FormatUint(uint64(cs.GetPort()), 10))
		if prev, dup := addrs[addr]; dup && cs.GetHost() != "" {
			v.p.addf(join(path, "host"), "%s is also the address of %s", addr, prev)
		}
		addrs[addr] = path

		v.signingCert(join(path, "signingCert"), cs, org)
		if cert := v.tlsCert(join(path, "tlsCert"), cs, org); cert != nil {
			key := string(cert.RawSubjectPublicKeyInfo)
			if prev, dup := tlsKeys[key]; dup {
				v.p.addf(join(path, "tlsCert"), "has the same public key as the TLS certificate of %s; consenters are told apart by their TLS keys", prev)
			}
			tlsKeys[key] = path
		}
	}
	if len(c.GetConsenters()) > 0 && c.GetNextConsenterId() <= maxID {
		v.p.addf("consensus.nextConsenterID", "%d is not above the largest consenter id, %d (ids are never reused)", c.GetNextConsenterId(), maxID)
	}

	r := c.GetRaft()
	if r == nil {
		v.p.addf("consensus.raft", "missing")
		return
	}
	if r.GetTickIntervalMs() == 0 {
		v.p.addf("consensus.raft.tickInterval", "must be positive")
	}
	if r.GetHeartbeatTick() == 0 {
		v.p.addf("consensus.raft.heartbeatTick", "must be positive")
	}
	if r.GetElectionTick() <= r.GetHeartbeatTick() {
		v.p.addf("consensus.raft.electionTick", "%d must be greater than heartbeatTick (%d)", r.GetElectionTick(), r.GetHeartbeatTick())
	}
	if r.GetMaxInflightBlocks() == 0 {
		v.p.addf("consensus.raft.maxInflightBlocks", "must be positive")
	}
	if r.GetSnapshotIntervalBytes() == 0 {
		v.p.addf("consensus.raft.snapshotIntervalBytes", "must be positive")
	}
}

// consenterOrg returns the orderer organization a consenter names, or nil
// after reporting why there is none.
func (v *validator) consenterOrg(path, mspID string) *checkedOrg {
	if mspID == "" {
		v.p.addf(path, "missing (want the MSP id of an orderer organization)")
		return nil
	}
	org, ok := v.orgs[mspID]
	switch {
	case !ok:
		v.p.addf(path, "%q names no orderer organization of the channel", mspID)
		return nil
	case org.typ != policy.OrdererOrg:
		v.p.addf(path, "%s is an application organization; consenters belong to orderer organizations", mspID)
		return nil
	}
	return org
}

// signingCert checks that a consenter's signing certificate is an orderer
// identity of its organization, at a time the certificate is valid.
func (v *validator) signingCert(path string, cs *configpb.Consenter, org *checkedOrg) {
	cert, err := parseLeafPEM(cs.GetSigningCert())
	if err != nil {
		v.p.add(path, 0, err)
		return
	}
	if org == nil || !org.certsOK {
		return // the organization's problems are reported
	}
	at := cert.NotBefore.Add(time.Second)
	mspCfg := org.msp
	mspCfg.Now = func() time.Time { return at }
	msp, err := identity.NewMSP(mspCfg)
	if err != nil {
		v.p.add(path, 0, err)
		return
	}
	sid, err := identity.Serialize(cs.GetMspId(), cs.GetSigningCert())
	if err != nil {
		v.p.add(path, 0, err)
		return
	}
	id, err := msp.DeserializeIdentity(sid)
	if err != nil {
		v.p.add(path, 0, err)
		return
	}
	if id.Role() != identity.RoleOrderer {
		v.p.addf(path, "certificate %s has role %s; a consenter signs blocks as an orderer (OU=orderer)", certName(cert), id.Role())
	}
}

// tlsCert checks a consenter's TLS certificate and returns it.
func (v *validator) tlsCert(path string, cs *configpb.Consenter, org *checkedOrg) *x509.Certificate {
	cert, err := parseLeafPEM(cs.GetTlsCert())
	if err != nil {
		v.p.add(path, 0, err)
		return nil
	}
	if org != nil && org.certsOK && len(org.tlsRoots) > 0 {
		if err := verifyChain(cert, org.tlsRoots, org.tlsIntermediates); err != nil {
			v.p.addf(path, "certificate %s does not chain to a TLS CA of %s: %v", certName(cert), cs.GetMspId(), err)
		}
	}
	return cert
}

func (v *validator) batch() {
	b := v.cfg.GetBatch()
	if b == nil {
		v.p.addf("batch", "missing")
		return
	}
	if b.GetMaxMessageCount() == 0 {
		v.p.addf("batch.maxMessageCount", "must be positive")
	}
	abs, pref := ByteSize(b.GetAbsoluteMaxBytes()), ByteSize(b.GetPreferredMaxBytes())
	switch {
	case abs == 0:
		v.p.addf("batch.absoluteMaxBytes", "must be positive")
	case abs > MaxAbsoluteMaxBytes:
		v.p.addf("batch.absoluteMaxBytes", "%s exceeds %s (a block must stay below protobuf's 2 GiB limit)", abs, MaxAbsoluteMaxBytes)
	}
	switch {
	case pref == 0:
		v.p.addf("batch.preferredMaxBytes", "must be positive")
	case pref > abs && abs > 0:
		v.p.addf("batch.preferredMaxBytes", "%s exceeds absoluteMaxBytes (%s)", pref, abs)
	}
	if b.GetTimeoutMs() == 0 {
		v.p.addf("batch.timeout", "must be positive")
	}
}

func (v *validator) policies() {
	ps := v.cfg.GetPolicies()
	required := []string{PolicyReaders, PolicyWriters, PolicyAdmins, PolicyBlockValidation}
	if len(v.cfg.GetOrganizations()) > 0 {
		required = append(required, PolicyEndorsement, PolicyLifecycleEndorsement)
	}
	for _, name := range required {
		if _, ok := ps[name]; !ok {
			v.p.addf(join("policies", name), "missing (a channel needs %s)", strings.Join(required, ", "))
		}
	}
	orgs, orgsErr := policy.OrganizationsFromConfig(v.cfg)
	if orgsErr != nil && v.p.empty() {
		v.p.add("", 0, orgsErr) // a rule of the policy package this package does not check itself
	}
	for _, name := range slices.Sorted(maps.Keys(ps)) {
		path := join("policies", name)
		if err := checkPolicyName(name); err != nil {
			v.p.add(path, 0, err)
			continue
		}
		p := ps[name]
		switch p.GetRule().(type) {
		case *configpb.Policy_Signature:
			v.signaturePolicy(path, p)
		case *configpb.Policy_Implicit:
		default:
			v.p.addf(path, "empty policy (neither a signature nor an implicit policy)")
			continue
		}
		if orgsErr != nil {
			continue // the organizations' problems are reported
		}
		if _, err := policy.Compile(p, orgs); err != nil {
			v.p.add(path, 0, err)
		}
	}
}

// parseLeafPEM parses exactly one PEM certificate that is not a CA.
func parseLeafPEM(data []byte) (*x509.Certificate, error) {
	if len(data) == 0 {
		return nil, errors.New("missing")
	}
	certs, err := pemparse.Certificates(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%d certificates, want exactly one", len(certs))
	}
	if certs[0].IsCA {
		return nil, fmt.Errorf("certificate %s is a CA certificate; want the node's own certificate", certName(certs[0]))
	}
	return certs[0], nil
}

// verifyChain checks that cert chains to roots through intermediates at a
// time cert is valid, as identity.NewMSP checks intermediates.
func verifyChain(cert *x509.Certificate, roots, intermediates []*x509.Certificate) error {
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range roots {
		rp.AddCert(c)
	}
	for _, c := range intermediates {
		ip.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         rp,
		Intermediates: ip,
		CurrentTime:   cert.NotBefore.Add(time.Second),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// certName names a certificate in messages.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return strconv.Quote("CN=" + c.Subject.CommonName)
	}
	return strconv.Quote(c.Subject.String())
}
