package network

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/chorusledger/chorus/sdk/client"
)

// ProfilePath is where the profile of an organization's client (or admin)
// is written.
func (n *Network) ProfilePath(mspID string, admin bool) string {
	name := mspID + ".json"
	if admin {
		name = mspID + "-admin.json"
	}
	return filepath.Join(n.Dir, "profiles", name)
}

// CaliperNetworkPath is where the Hyperledger Caliper network
// configuration is written.
func (n *Network) CaliperNetworkPath() string {
	return filepath.Join(n.Dir, "profiles", "caliper-network.yaml")
}

// writeProfiles writes every application organization's client and admin
// profiles, pointing at the organization's first peer, and Caliper's
// network configuration.
func (n *Network) writeProfiles() error {
	dir := filepath.Join(n.Dir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rel := func(p string) string {
		r, err := filepath.Rel(dir, n.Path(p))
		if err != nil {
			return n.Path(p)
		}
		return r
	}
	type caliperPeer struct {
		Endpoint    string            `yaml:"endpoint"`
		TLSCACerts  map[string]string `yaml:"tlsCACerts"`
		GRPCOptions map[string]string `yaml:"grpcOptions"`
	}
	type caliperOrg struct {
		MSPID      string `yaml:"mspid"`
		Identities struct {
			Certificates []map[string]any `yaml:"certificates"`
		} `yaml:"identities"`
		Peers []caliperPeer `yaml:"peers"`
	}
	var caliperOrgs []caliperOrg
	for _, org := range n.Spec.Orgs {
		if org.Orderer {
			continue
		}
		var gatewayPeer *Node
		for _, nd := range n.Spec.Nodes {
			if nd.Role == RolePeer && nd.MSPID == org.MSPID {
				gatewayPeer = &nd
				break
			}
		}
		if gatewayPeer == nil {
			return fmt.Errorf("network: organization %s has no peer", org.MSPID)
		}
		for _, admin := range []bool{false, true} {
			cert, key := org.ClientCert, org.ClientKey
			if admin {
				cert, key = org.AdminCert, org.AdminKey
			}
			// The format sdk/client reads (DESIGN §10), paths relative to
			// the profile's directory.
			p := client.Profile{
				MSPID: org.MSPID, CertPath: rel(cert), KeyPath: rel(key),
				Endpoint: gatewayPeer.Address, TLSRootCertPath: rel(org.TLSCACert),
				ServerName: gatewayPeer.TLSServerName, Channel: n.Spec.Channel,
			}
			data, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(n.ProfilePath(org.MSPID, admin), append(data, '\n'), 0o644); err != nil {
				return err
			}
		}
		co := caliperOrg{MSPID: org.MSPID}
		co.Identities.Certificates = []map[string]any{{
			"name":             "User1",
			"clientPrivateKey": map[string]string{"path": n.Path(org.ClientKey)},
			"clientSignedCert": map[string]string{"path": n.Path(org.ClientCert)},
		}}
		co.Peers = []caliperPeer{{
			Endpoint:    gatewayPeer.Address,
			TLSCACerts:  map[string]string{"path": n.Path(org.TLSCACert)},
			GRPCOptions: map[string]string{"ssl-target-name-override": gatewayPeer.TLSServerName},
		}}
		caliperOrgs = append(caliperOrgs, co)
	}
	caliper := map[string]any{
		"name":    "chorus-local",
		"version": "2.0.0",
		"caliper": map[string]any{"blockchain": "fabric", "sutOptions": map[string]any{"mutualTls": false}},
		"channels": []map[string]any{{
			"channelName": n.Spec.Channel,
			"contracts":   []map[string]string{{"id": "assets"}},
		}},
		"organizations": caliperOrgs,
	}
	data, err := yaml.Marshal(caliper)
	if err != nil {
		return err
	}
	header := "# Hyperledger Caliper network configuration (peer-gateway connector) for this local Chorus network.\n"
	return os.WriteFile(n.CaliperNetworkPath(), append([]byte(header), data...), 0o644)
}
