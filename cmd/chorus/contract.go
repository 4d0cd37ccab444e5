package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/pkg"
	"github.com/chorusledger/chorus/internal/network"
	"github.com/chorusledger/chorus/sdk/client"
	"github.com/spf13/cobra"
)

func newContractCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contract",
		Short: "Package, install, approve, commit and deploy contracts",
		Long: `Contracts are Go programs compiled to WebAssembly, run by every peer in a
sandbox. Their lifecycle follows Fabric 2.x: package the module, install the
package on the peers, have each organization approve a definition (name,
version, sequence, endorsement policy, package hash), and commit it once the
channel's lifecycle policy (a majority of organizations by default) is met.
'chorus contract deploy' does all of it for a local network.`,
	}
	cmd.AddCommand(newContractPackageCmd(), newContractInstallCmd(), newContractApproveCmd(),
		newContractCommitCmd(), newContractListCmd(), newContractDeployCmd())
	return cmd
}

func newContractPackageCmd() *cobra.Command {
	var label, out string
	cmd := &cobra.Command{
		Use:   "package DIR --label LABEL -o FILE",
		Short: "Build a Go contract into a WebAssembly package",
		Long: `Build the Go contract in DIR with the standard toolchain
(GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) and write a package:
the module and its label. The package id, printed, is LABEL:SHA-256.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if label == "" {
				label = filepath.Base(filepath.Clean(args[0]))
			}
			p, err := pkg.Build(args[0], label)
			if err != nil {
				return err
			}
			archive, err := p.Marshal()
			if err != nil {
				return err
			}
			if out == "" {
				out = label + ".pkg"
			}
			if err := os.WriteFile(out, archive, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes); package id %s\n", out, len(archive), pkg.ID(label, pkg.Hash(archive)))
			return nil
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "the package's label (default: the directory's name)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the package file (default: LABEL.pkg)")
	return cmd
}

func newContractInstallCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "install PACKAGE --dir DIR",
		Short: "Install a package (or a .wasm module) on every peer of a local network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := network.Load(dir)
			if err != nil {
				return err
			}
			_, archive, err := pkg.ReadFile(args[0], "")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			for _, p := range n.Nodes(network.RolePeer) {
				info, err := n.Install(ctx, p, archive)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "installed %s on %s\n", info.PackageId, p.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultDir, "the local network's directory")
	return cmd
}

// definitionFlags describe a contract definition on the command line.
type definitionFlags struct {
	name, version, policy, pkgFile, pkgHash string
	sequence                                uint64
	profile                                 string
	timeout                                 time.Duration
}

func (f *definitionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.name, "name", "", "the contract's name (required)")
	cmd.Flags().StringVar(&f.version, "version", "1.0", "the contract's version")
	cmd.Flags().Uint64Var(&f.sequence, "sequence", 0, "the definition's sequence (default: the next one)")
	cmd.Flags().StringVar(&f.policy, "policy", "", "the endorsement policy, e.g. AND('Org1MSP.peer','Org2MSP.peer') (default: /Channel/Endorsement)")
	cmd.Flags().StringVar(&f.pkgFile, "package", "", "the package (its hash goes into the definition)")
	cmd.Flags().StringVar(&f.pkgHash, "package-hash", "", "the package's SHA-256 in hex, instead of --package")
	cmd.Flags().StringVar(&f.profile, "profile", "", "an organization admin's client profile (required)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", time.Minute, "how long to wait")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("profile")
}

// definition builds the definition JSON, computing the next sequence when
// none is given.
func (f *definitionFlags) definition(ctx context.Context, lifecycle *client.Contract) ([]byte, error) {
	hash := f.pkgHash
	if f.pkgFile != "" {
		_, archive, err := pkg.ReadFile(f.pkgFile, "")
		if err != nil {
			return nil, err
		}
		hash = hex.EncodeToString(pkg.Hash(archive))
	}
	seq := f.sequence
	if seq == 0 {
		seq = 1
		if b, err := lifecycle.Evaluate(ctx, "QueryDefinition", f.name); err == nil {
			var cur contract.DefinitionJSON
			if err := json.Unmarshal(b, &cur); err != nil {
				return nil, err
			}
			seq = cur.Sequence + 1
		}
	}
	return json.Marshal(contract.DefinitionJSON{Name: f.name, Version: f.version, Sequence: seq, EndorsementPolicy: f.policy, PackageHash: hash})
}

func lifecycleStep(use, short, fn string) *cobra.Command {
	var f definitionFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gw, err := client.Connect(f.profile)
			if err != nil {
				return err
			}
			defer gw.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			lifecycle := gw.Network(gw.DefaultChannel()).Contract(contract.LifecycleName)
			def, err := f.definition(ctx, lifecycle)
			if err != nil {
				return err
			}
			res, err := lifecycle.Submit(ctx, fn, string(def))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(res))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newContractApproveCmd() *cobra.Command {
	return lifecycleStep("approve --name NAME --package FILE --profile ADMIN_PROFILE", "Approve a contract definition for the profile's organization", "ApproveForMyOrg")
}

func newContractCommitCmd() *cobra.Command {
	return lifecycleStep("commit --name NAME --package FILE --profile ADMIN_PROFILE", "Commit a contract definition once enough organizations approved it", "CommitDefinition")
}

func newContractListCmd() *cobra.Command {
	var f clientFlags
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the contracts defined on the channel and each organization's approval",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, closeGW, ctx, cancel, err := f.contract(cmd, contract.LifecycleName)
			if err != nil {
				return err
			}
			defer closeGW()
			defer cancel()
			b, err := c.Evaluate(ctx, "QueryDefinitions")
			if err != nil {
				return err
			}
			var defs []contract.DefinitionJSON
			if err := json.Unmarshal(b, &defs); err != nil {
				return err
			}
			type row struct {
				contract.DefinitionJSON
				Approvals map[string]bool `json:"approvals"`
			}
			var rows []row
			for _, d := range defs {
				ab, err := c.Evaluate(ctx, "QueryApprovals", d.Name, strconv.FormatUint(d.Sequence, 10))
				if err != nil {
					return err
				}
				var approvals map[string]*contract.DefinitionJSON
				if err := json.Unmarshal(ab, &approvals); err != nil {
					return err
				}
				r := row{DefinitionJSON: d, Approvals: map[string]bool{}}
				for org, a := range approvals {
					r.Approvals[org] = a != nil && *a == d
				}
				rows = append(rows, r)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tVERSION\tSEQUENCE\tENDORSEMENT POLICY\tPACKAGE\tAPPROVALS")
			for _, r := range rows {
				var orgs []string
				for org := range r.Approvals {
					orgs = append(orgs, org)
				}
				sort.Strings(orgs)
				approvals := ""
				for _, org := range orgs {
					mark := "no"
					if r.Approvals[org] {
						mark = "yes"
					}
					approvals += fmt.Sprintf("%s=%s ", org, mark)
				}
				short := r.PackageHash
				if len(short) > 12 {
					short = short[:12]
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Name, r.Version, r.Sequence, r.EndorsementPolicy, short, approvals)
			}
			return w.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newContractDeployCmd() *cobra.Command {
	var dir, name, version, policy, label string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "deploy SOURCE --name NAME [--version V] [--policy EXPR] [--dir DIR]",
		Short: "Package, install, approve and commit a contract on a local network, idempotently",
		Long: `Deploy a contract on a local network in one step. SOURCE is a Go contract
directory (built with the standard toolchain), a .wasm module, or a package.
The package is installed on every peer; each organization's admin approves
the definition with the next sequence (organizations that already approved
are skipped); then it is committed. A definition already committed with the
same version, policy and package changes nothing. A new version or package
upgrades the contract through the next sequence.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := network.Load(dir)
			if err != nil {
				return err
			}
			if label == "" {
				label = name + "_" + version
			}
			var archive []byte
			if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
				p, err := pkg.Build(args[0], label)
				if err != nil {
					return err
				}
				if archive, err = p.Marshal(); err != nil {
					return err
				}
			} else if _, archive, err = pkg.ReadFile(args[0], label); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := n.Deploy(ctx, network.Deployment{Name: name, Version: version, Policy: policy, Package: archive}, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ORGANIZATION\tAPPROVED SEQUENCE "+strconv.FormatUint(res.Sequence, 10))
			for _, org := range res.SortedOrgs() {
				fmt.Fprintf(w, "%s\t%v\n", org, res.Approvals[org])
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultDir, "the local network's directory")
	cmd.Flags().StringVar(&name, "name", "", "the contract's name (required)")
	cmd.Flags().StringVar(&version, "version", "1.0", "the contract's version")
	cmd.Flags().StringVar(&policy, "policy", "", "the endorsement policy (default: /Channel/Endorsement)")
	cmd.Flags().StringVar(&label, "label", "", "the package's label (default: NAME_VERSION)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
