package network

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Options describe a network to generate.
type Options struct {
	Dir         string
	Orderers    int    // default 3
	Orgs        int    // application organizations; default 2
	PeersPerOrg int    // default 1 (peers are started when the build supports them)
	BasePort    int    // default 7400
	Channel     string // default "mychannel"
	// CertLifetime is how long node and user certificates are valid
	// (default one year); CAs live ten times as long.
	CertLifetime time.Duration
	// TickInterval of the channel's Raft consensus (default 100ms).
	TickInterval time.Duration
	// BatchTimeout of the channel's block cutter (default 250ms).
	BatchTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Orderers == 0 {
		o.Orderers = 3
	}
	if o.Orgs == 0 {
		o.Orgs = 2
	}
	if o.PeersPerOrg == 0 {
		o.PeersPerOrg = 1
	}
	if o.BasePort == 0 {
		o.BasePort = 7400
	}
	if o.Channel == "" {
		o.Channel = "mychannel"
	}
	if o.CertLifetime == 0 {
		o.CertLifetime = 365 * 24 * time.Hour
	}
	if o.TickInterval == 0 {
		o.TickInterval = 100 * time.Millisecond
	}
	if o.BatchTimeout == 0 {
		o.BatchTimeout = 250 * time.Millisecond
	}
}

// Role is what a node does.
type Role string

const (
	RoleOrderer Role = "orderer"
	RolePeer    Role = "peer"
)

// Node describes one generated node.
type Node struct {
	Name          string `json:"name"`
	Role          Role   `json:"role"`
	MSPID         string `json:"mspId"`
	Address       string `json:"address"`
	AdminAddress  string `json:"adminAddress"`
	OpsAddress    string `json:"operationsAddress"`
	Dir           string `json:"dir"`    // relative to the network directory
	Config        string `json:"config"` // relative to the network directory
	ConsenterID   uint64 `json:"consenterId,omitempty"`
	TLSCAFile     string `json:"tlsCaFile"` // the CA of the node's TLS certificate
	AdminCertFile string `json:"adminCertFile"`
	AdminKeyFile  string `json:"adminKeyFile"`
	DatabaseDir   string `json:"databaseDir"`
	LogFile       string `json:"logFile"`
	PIDFile       string `json:"pidFile"`
	TLSServerName string `json:"tlsServerName"`
}

// Org describes one generated organization.
type Org struct {
	MSPID      string `json:"mspId"`
	Domain     string `json:"domain"`
	Orderer    bool   `json:"orderer"`
	CACert     string `json:"caCert"`
	TLSCACert  string `json:"tlsCaCert"`
	ClientCert string `json:"clientCert"`
	ClientKey  string `json:"clientKey"`
	AdminCert  string `json:"adminCert"`
	AdminKey   string `json:"adminKey"`
}

// Spec is what network.json records: enough to run, stop and talk to the
// network later.
type Spec struct {
	FormatVersion int       `json:"formatVersion"`
	Created       time.Time `json:"created"`
	Channel       string    `json:"channel"`
	GenesisBlock  string    `json:"genesisBlock"`
	BasePort      int       `json:"basePort"`
	CertsExpire   time.Time `json:"certsExpire"`
	Orgs          []Org     `json:"orgs"`
	Nodes         []Node    `json:"nodes"`
}

const specFile = "network.json"
const specFormat = 1

func (s *Spec) save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, specFile), append(data, '\n'), 0o644)
}

func loadSpec(dir string) (*Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return nil, fmt.Errorf("network: %s is not a Chorus network directory: %w", dir, err)
	}
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("network: %s: %w", filepath.Join(dir, specFile), err)
	}
	if s.FormatVersion > specFormat {
		return nil, fmt.Errorf("network: %s was written by a newer chorus (format %d > %d)", dir, s.FormatVersion, specFormat)
	}
	return &s, nil
}

// Node returns the node named name.
func (s *Spec) Node(name string) (Node, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Org returns the organization with the MSP id.
func (s *Spec) Org(mspID string) (Org, bool) {
	for _, o := range s.Orgs {
		if o.MSPID == mspID {
			return o, true
		}
	}
	return Org{}, false
}
