package network

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/pkg"
	"github.com/chorusledger/chorus/internal/policy"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	"github.com/chorusledger/chorus/sdk/client"
)

// Deployment is a contract to deploy on a network.
type Deployment struct {
	Name    string
	Version string
	// Policy is the endorsement policy: a signature expression or
	// "/Channel/<Policy>".
	Policy string
	// Package is the package archive (pkg.Package.Marshal).
	Package []byte
}

// DeployResult says what Deploy found and did.
type DeployResult struct {
	PackageID string
	Sequence  uint64
	// Changed is false when the definition was already committed.
	Changed bool
	// Approvals says, per organization, whether it approved the
	// committed definition.
	Approvals map[string]bool
}

// Deploy installs a contract package on every peer of the network and
// defines the contract on the channel as Fabric 2.x's lifecycle does: each
// organization's admin approves the definition (name, version, next
// sequence, endorsement policy, package hash), then it is committed. It is
// idempotent: a definition already committed changes nothing, and
// organizations that already approved are not asked again.
func (n *Network) Deploy(ctx context.Context, d Deployment, log io.Writer) (*DeployResult, error) {
	p, err := pkg.Parse(d.Package)
	if err != nil {
		return nil, err
	}
	hash := pkg.Hash(d.Package)
	res := &DeployResult{PackageID: pkg.ID(p.Label, hash), Approvals: map[string]bool{}}
	if d.Policy, err = canonicalPolicy(d.Policy); err != nil {
		return nil, err
	}
	for _, peer := range n.Nodes(RolePeer) {
		info, err := n.Install(ctx, peer, d.Package)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "installed %s on %s\n", info.PackageId, peer.Name)
	}
	var orgs []Org
	for _, o := range n.Spec.Orgs {
		if !o.Orderer {
			orgs = append(orgs, o)
		}
	}
	admins := map[string]*client.Gateway{}
	for _, o := range orgs {
		gw, err := client.Connect(n.ProfilePath(o.MSPID, true))
		if err != nil {
			return nil, err
		}
		defer gw.Close()
		admins[o.MSPID] = gw
	}
	lifecycle := func(mspID string) *client.Contract {
		return admins[mspID].Network(n.Spec.Channel).Contract(contract.LifecycleName)
	}
	first := orgs[0].MSPID
	current, err := queryDefinition(ctx, lifecycle(first), d.Name)
	if err != nil {
		return nil, err
	}
	def := contract.DefinitionJSON{Name: d.Name, Version: d.Version, Sequence: 1, EndorsementPolicy: d.Policy, PackageHash: hex.EncodeToString(hash)}
	if current != nil {
		if current.Version == def.Version && current.EndorsementPolicy == def.EndorsementPolicy && current.PackageHash == def.PackageHash {
			res.Sequence = current.Sequence
			for _, o := range orgs {
				res.Approvals[o.MSPID] = true
			}
			fmt.Fprintf(log, "%s %s is already committed at sequence %d with this package and policy\n", d.Name, d.Version, current.Sequence)
			return res, nil
		}
		def.Sequence = current.Sequence + 1
	}
	res.Sequence, res.Changed = def.Sequence, true
	arg, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	readiness, err := commitReadiness(ctx, lifecycle(first), arg)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		if readiness[o.MSPID] {
			fmt.Fprintf(log, "%s already approved %s sequence %d\n", o.MSPID, d.Name, def.Sequence)
			continue
		}
		// The commit is endorsed by every organization's peer, and each
		// checks the approvals in its own ledger: every peer must have this
		// approval, not only the approving organization's.
		if _, err := n.submitToEveryPeer(ctx, lifecycle(o.MSPID), "ApproveForMyOrg", arg); err != nil {
			return nil, fmt.Errorf("approving as %s: %w", o.MSPID, err)
		}
		fmt.Fprintf(log, "%s approved %s %s sequence %d\n", o.MSPID, d.Name, d.Version, def.Sequence)
	}
	if res.Approvals, err = commitReadiness(ctx, lifecycle(first), arg); err != nil {
		return nil, err
	}
	st, err := n.submitToEveryPeer(ctx, lifecycle(first), "CommitDefinition", arg)
	if err != nil {
		return nil, fmt.Errorf("committing the definition: %w", err)
	}
	fmt.Fprintf(log, "committed %s %s sequence %d with endorsement policy %s (block %d)\n", d.Name, d.Version, def.Sequence, d.Policy, st.BlockNumber)
	return res, nil
}

// submitToEveryPeer submits function fn of _lifecycle with arg and returns
// its status once every peer of the network has committed it as valid.
func (n *Network) submitToEveryPeer(ctx context.Context, lifecycle *client.Contract, fn string, arg []byte) (*client.Status, error) {
	_, commit, err := lifecycle.SubmitAsync(ctx, fn, string(arg))
	if err != nil {
		return nil, err
	}
	st, err := commit.Status(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Successful {
		return nil, fmt.Errorf("the %s transaction %s committed as %s", fn, st.TransactionID, st.CodeName)
	}
	for _, peer := range n.Nodes(RolePeer) {
		if err := n.waitTx(ctx, peer, st.TransactionID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// canonicalPolicy writes a signature expression in its canonical form, as
// _lifecycle stores it; a channel policy reference is kept.
func canonicalPolicy(expr string) (string, error) {
	if expr == "" || strings.HasPrefix(expr, contract.ChannelPolicyPrefix) {
		if expr == "" {
			return contract.ChannelPolicyPrefix + contract.DefaultEndorsementPolicy, nil
		}
		return expr, nil
	}
	p, err := policy.ParseSignaturePolicy(expr)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

// queryDefinition returns the committed definition of name, or nil.
func queryDefinition(ctx context.Context, lifecycle *client.Contract, name string) (*contract.DefinitionJSON, error) {
	b, err := lifecycle.Evaluate(ctx, "QueryDefinition", name)
	if err != nil {
		var ge *client.GatewayError
		if errors.As(err, &ge) && strings.Contains(ge.Error(), "is not defined on channel") {
			return nil, nil
		}
		return nil, fmt.Errorf("querying the definition of %s: %w", name, err)
	}
	var def contract.DefinitionJSON
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, err
	}
	return &def, nil
}

// commitReadiness asks which organizations approved the definition.
func commitReadiness(ctx context.Context, lifecycle *client.Contract, def []byte) (map[string]bool, error) {
	b, err := lifecycle.Evaluate(ctx, "CheckCommitReadiness", string(def))
	if err != nil {
		return nil, err
	}
	var r struct {
		Approvals map[string]bool `json:"approvals"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return r.Approvals, nil
}

// Install installs a package on a peer through its admin API.
func (n *Network) Install(ctx context.Context, peer Node, archive []byte) (*adminpb.InstalledPackage, error) {
	conn, err := n.adminConn(peer)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	info, err := adminpb.NewContractPackagesClient(conn).Install(ctx, &adminpb.InstallRequest{Package: archive})
	if err != nil {
		return nil, fmt.Errorf("installing on %s: %w", peer.Name, err)
	}
	return info, nil
}

// SortedOrgs lists a result's organizations in order.
func (r *DeployResult) SortedOrgs() []string {
	var out []string
	for o := range r.Approvals {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}
