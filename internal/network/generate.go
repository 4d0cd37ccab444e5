package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/identity"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
)

// Port offsets: orderer i listens at BasePort + 10*i (+1 admin, +2
// operations); peer j of organization k at BasePort + 100 + 20*(k-1) + 5*j.
const (
	ordererStride = 10
	peerBase      = 100
	orgStride     = 20
	peerStride    = 5
)

// Generate writes a new network into opts.Dir, which must not hold one.
func Generate(opts Options) (*Network, error) {
	opts.setDefaults()
	if opts.Orderers < 1 || opts.Orderers > 9 {
		return nil, fmt.Errorf("network: %d orderers; 1 to 9 are supported", opts.Orderers)
	}
	if opts.Orgs < 1 || opts.Orgs > 4 || opts.PeersPerOrg < 1 || opts.PeersPerOrg > 4 {
		return nil, fmt.Errorf("network: %d organizations with %d peers each; 1 to 4 of each are supported", opts.Orgs, opts.PeersPerOrg)
	}
	if opts.BasePort < 1024 || opts.BasePort+peerBase+orgStride*opts.Orgs > 65535 {
		return nil, fmt.Errorf("network: base port %d leaves no room for the network's ports", opts.BasePort)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, specFile)); err == nil {
		return nil, fmt.Errorf("network: %s already holds a network", dir)
	}
	g := &generator{dir: dir, opts: opts, spec: &Spec{FormatVersion: specFormat, Created: time.Now().UTC(), Channel: opts.Channel, BasePort: opts.BasePort}}
	if err := g.run(); err != nil {
		return nil, err
	}
	n := &Network{Dir: dir, Spec: g.spec}
	if err := n.writeProfiles(); err != nil {
		return nil, err
	}
	return n, nil
}

type generator struct {
	dir  string
	opts Options
	spec *Spec
	def  channelconfig.Definition
}

// orgCAs are an organization's identity and TLS CAs.
type orgCAs struct {
	org   Org
	ca    *identity.CA
	tlsCA *identity.CA
}

func (g *generator) run() error {
	for _, d := range []string{"crypto", "nodes", "channels", "logs", "run"} {
		if err := os.MkdirAll(filepath.Join(g.dir, d), 0o755); err != nil {
			return err
		}
	}
	g.spec.CertsExpire = time.Now().Add(g.opts.CertLifetime).UTC()
	ordererOrg, err := g.newOrg("OrdererMSP", "example.com", true)
	if err != nil {
		return err
	}
	var appOrgs []*orgCAs
	for k := 1; k <= g.opts.Orgs; k++ {
		o, err := g.newOrg(fmt.Sprintf("Org%dMSP", k), fmt.Sprintf("org%d.example.com", k), false)
		if err != nil {
			return err
		}
		appOrgs = append(appOrgs, o)
	}
	g.def = channelconfig.Definition{
		Name: g.opts.Channel,
		Consensus: channelconfig.ConsensusDef{Type: "raft", Raft: channelconfig.RaftDef{
			TickInterval: channelconfig.Duration(g.opts.TickInterval), ElectionTick: 20, HeartbeatTick: 2,
		}},
		Batch: channelconfig.BatchDef{Timeout: channelconfig.Duration(g.opts.BatchTimeout)},
	}
	ordererDef := g.orgDef(ordererOrg)
	for i := 0; i < g.opts.Orderers; i++ {
		n, err := g.newOrderer(ordererOrg, i)
		if err != nil {
			return err
		}
		ep, err := nodeEndpoint(n)
		if err != nil {
			return err
		}
		ordererDef.OrdererEndpoints = append(ordererDef.OrdererEndpoints, ep)
	}
	g.def.OrdererOrganizations = []channelconfig.OrganizationDef{ordererDef}
	for k, o := range appOrgs {
		od := g.orgDef(o)
		for j := 0; j < g.opts.PeersPerOrg; j++ {
			n, err := g.newPeer(o, k+1, j)
			if err != nil {
				return err
			}
			ep, err := nodeEndpoint(n)
			if err != nil {
				return err
			}
			od.GatewayPeers = append(od.GatewayPeers, ep)
		}
		g.def.Organizations = append(g.def.Organizations, od)
	}
	return g.writeChannel()
}

func (g *generator) rel(path string) string {
	r, err := filepath.Rel(g.dir, path)
	if err != nil {
		return path
	}
	return r
}

func (g *generator) newOrg(mspID, domain string, isOrderer bool) (*orgCAs, error) {
	base := filepath.Join(g.dir, "crypto", mspID)
	caLifetime := 10 * g.opts.CertLifetime
	ca, err := identity.NewCA("ca."+domain, mspID, caLifetime)
	if err != nil {
		return nil, err
	}
	tlsCA, err := identity.NewCA("tlsca."+domain, mspID, caLifetime)
	if err != nil {
		return nil, err
	}
	for name, c := range map[string]*identity.CA{"ca": ca, "tlsca": tlsCA} {
		key, err := c.KeyPEM()
		if err != nil {
			return nil, err
		}
		if err := writePair(filepath.Join(base, name), c.CertificatePEM(), key); err != nil {
			return nil, err
		}
	}
	o := Org{MSPID: mspID, Domain: domain, Orderer: isOrderer,
		CACert:    g.rel(filepath.Join(base, "ca", "cert.pem")),
		TLSCACert: g.rel(filepath.Join(base, "tlsca", "cert.pem")),
	}
	users := []struct {
		name string
		role identity.Role
		cert *string
		key  *string
	}{{"Admin", identity.RoleAdmin, &o.AdminCert, &o.AdminKey}}
	if !isOrderer {
		users = append(users, struct {
			name string
			role identity.Role
			cert *string
			key  *string
		}{"User1", identity.RoleClient, &o.ClientCert, &o.ClientKey})
	}
	for _, u := range users {
		cert, key, err := ca.Issue(u.name+"@"+domain, u.role, g.opts.CertLifetime, "127.0.0.1", "localhost")
		if err != nil {
			return nil, err
		}
		ud := filepath.Join(base, "users", u.name)
		if err := writePair(ud, cert, key); err != nil {
			return nil, err
		}
		*u.cert, *u.key = g.rel(filepath.Join(ud, "cert.pem")), g.rel(filepath.Join(ud, "key.pem"))
	}
	g.spec.Orgs = append(g.spec.Orgs, o)
	return &orgCAs{org: o, ca: ca, tlsCA: tlsCA}, nil
}

func (g *generator) orgDef(o *orgCAs) channelconfig.OrganizationDef {
	return channelconfig.OrganizationDef{
		MSPID:        o.org.MSPID,
		RootCerts:    []channelconfig.PEM{{Path: filepath.Join("..", o.org.CACert), Data: o.ca.CertificatePEM()}},
		TLSRootCerts: []channelconfig.PEM{{Path: filepath.Join("..", o.org.TLSCACert), Data: o.tlsCA.CertificatePEM()}},
	}
}

// newNode issues a node's identity and TLS certificates and lays out its
// directory.
func (g *generator) newNode(o *orgCAs, name string, role identity.Role, port int) (Node, []byte, []byte, error) {
	nd := filepath.Join(g.dir, "nodes", name)
	cert, key, err := o.ca.Issue(name, role, g.opts.CertLifetime)
	if err != nil {
		return Node{}, nil, nil, err
	}
	if err := writePair(filepath.Join(nd, "msp"), cert, key); err != nil {
		return Node{}, nil, nil, err
	}
	tlsCert, tlsKey, err := o.tlsCA.Issue(name, identity.RoleMember, g.opts.CertLifetime, "127.0.0.1", "localhost", name)
	if err != nil {
		return Node{}, nil, nil, err
	}
	if err := writePair(filepath.Join(nd, "tls"), tlsCert, tlsKey); err != nil {
		return Node{}, nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(nd, "data"), 0o700); err != nil {
		return Node{}, nil, nil, err
	}
	n := Node{
		Name: name, Role: Role(role.String()), MSPID: o.org.MSPID,
		Address:       "127.0.0.1:" + strconv.Itoa(port),
		AdminAddress:  "127.0.0.1:" + strconv.Itoa(port+1),
		OpsAddress:    "127.0.0.1:" + strconv.Itoa(port+2),
		Dir:           g.rel(nd),
		Config:        g.rel(filepath.Join(nd, "config.yaml")),
		TLSCAFile:     o.org.TLSCACert,
		AdminCertFile: o.org.AdminCert,
		AdminKeyFile:  o.org.AdminKey,
		DatabaseDir:   g.rel(filepath.Join(nd, "data", "db")),
		LogFile:       g.rel(filepath.Join(g.dir, "logs", name+".log")),
		PIDFile:       g.rel(filepath.Join(g.dir, "run", name+".pid")),
		TLSServerName: name,
	}
	return n, cert, tlsCert, nil
}

func (g *generator) newOrderer(o *orgCAs, i int) (Node, error) {
	name := fmt.Sprintf("orderer%d.example.com", i)
	n, cert, tlsCert, err := g.newNode(o, name, identity.RoleOrderer, g.opts.BasePort+ordererStride*i)
	if err != nil {
		return n, err
	}
	n.ConsenterID = uint64(i + 1)
	ep, err := nodeEndpoint(n)
	if err != nil {
		return n, err
	}
	g.def.Consensus.Consenters = append(g.def.Consensus.Consenters, channelconfig.ConsenterDef{
		ID: n.ConsenterID, MSPID: o.org.MSPID, Host: ep.Host, Port: ep.Port,
		SigningCert: channelconfig.PEM{Path: filepath.Join("..", n.Dir, "msp", "cert.pem"), Data: cert},
		TLSCert:     channelconfig.PEM{Path: filepath.Join("..", n.Dir, "tls", "cert.pem"), Data: tlsCert},
	})
	if err := g.writeNodeConfig(n, o); err != nil {
		return n, err
	}
	g.spec.Nodes = append(g.spec.Nodes, n)
	return n, nil
}

func (g *generator) newPeer(o *orgCAs, org, j int) (Node, error) {
	name := fmt.Sprintf("peer%d.%s", j, o.org.Domain)
	n, _, _, err := g.newNode(o, name, identity.RolePeer, g.opts.BasePort+peerBase+orgStride*(org-1)+peerStride*j)
	if err != nil {
		return n, err
	}
	if err := g.writeNodeConfig(n, o); err != nil {
		return n, err
	}
	g.spec.Nodes = append(g.spec.Nodes, n)
	return n, nil
}

// writeNodeConfig writes a node's YAML configuration. Paths are relative
// to the configuration file, so the directory can be moved whole.
func (g *generator) writeNodeConfig(n Node, o *orgCAs) error {
	var tlsRoots []string
	for _, org := range g.spec.Orgs {
		tlsRoots = append(tlsRoots, filepath.Join("..", "..", org.TLSCACert))
	}
	cfg := map[string]any{
		"role":    string(n.Role),
		"name":    n.Name,
		"mspID":   n.MSPID,
		"dataDir": "data",
		"listen": map[string]any{
			"address":           n.Address,
			"adminAddress":      n.AdminAddress,
			"operationsAddress": n.OpsAddress,
		},
		"identity": map[string]any{"certFile": "msp/cert.pem", "keyFile": "msp/key.pem"},
		"tls": map[string]any{
			"certFile":    "tls/cert.pem",
			"keyFile":     "tls/key.pem",
			"rootCAFiles": tlsRoots,
		},
		"admin":      map[string]any{"clientRootCAFiles": []string{filepath.Join("..", "..", o.org.CACert)}},
		"log":        map[string]any{"level": "info", "format": "json"},
		"operations": map[string]any{"profiling": true},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := "# Configuration of " + n.Name + ", generated by chorus up. CHORUS_* variables override it.\n"
	return os.WriteFile(filepath.Join(g.dir, n.Config), append([]byte(header), data...), 0o644)
}

func (g *generator) writeChannel() error {
	block, err := g.def.GenesisBlock()
	if err != nil {
		return fmt.Errorf("network: channel definition: %w", err)
	}
	data, err := proto.Marshal(block)
	if err != nil {
		return err
	}
	blockPath := filepath.Join(g.dir, "channels", g.opts.Channel+".block")
	if err := os.WriteFile(blockPath, data, 0o644); err != nil {
		return err
	}
	def, err := g.def.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(g.dir, "channels", g.opts.Channel+".yaml"), def, 0o644); err != nil {
		return err
	}
	g.spec.GenesisBlock = g.rel(blockPath)
	return g.spec.save(g.dir)
}

// writePair writes cert.pem (0644) and key.pem (0600) into dir.
func writePair(dir string, cert, key []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), cert, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), key, 0o600)
}

// nodeEndpoint is a node's address as the channel configuration lists
// it, with the node's name for TLS.
func nodeEndpoint(n Node) (channelconfig.Endpoint, error) {
	ep, err := channelconfig.ParseEndpoint(n.Address)
	ep.Name = n.Name
	return ep, err
}
