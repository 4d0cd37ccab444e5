package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/chorusledger/chorus/internal/network"
	"github.com/spf13/cobra"
)

const defaultDir = "./chorus-net"

func newUpCmd() *cobra.Command {
	var opts network.Options
	var consensus string
	var detach bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local network: orderers, peers, channel mychannel and the assets contract",
		Long: `Generate keys, certificates and configuration for a local network (unless
--dir already holds one), start every node as its own process, create and
join channel "mychannel", deploy the sample "assets" contract with
AND('Org1MSP.peer','Org2MSP.peer'), and print the endpoints.

With --detach, return once everything is ready: every node answers /readyz,
the channel has a Raft leader, and every peer has the block that committed
the contract's definition. Without it, stay in the foreground until Ctrl-C,
then stop the nodes (their data is kept). Running up again on an existing
directory starts whatever is not running and keeps all data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if consensus != "raft" {
				return fmt.Errorf("--consensus %q: this build supports raft", consensus)
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			start := time.Now()
			n, err := network.Up(ctx, opts, bin, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			printEndpoints(cmd, n)
			fmt.Fprintf(cmd.OutOrStdout(), "network ready in %v\n", time.Since(start).Round(100*time.Millisecond))
			if detach {
				fmt.Fprintf(cmd.OutOrStdout(), "stop it with: chorus down --dir %s\n", n.Dir)
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "running in the foreground; Ctrl-C stops the network (its data is kept)")
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			<-sig
			return n.Down(30*time.Second, false, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", defaultDir, "the network's directory")
	f.IntVar(&opts.Orgs, "orgs", 2, "application organizations")
	f.IntVar(&opts.PeersPerOrg, "peers", 1, "peers per organization")
	f.IntVar(&opts.Orderers, "orderers", 3, "orderers (Raft consenters)")
	f.StringVar(&consensus, "consensus", "raft", "consensus: raft")
	f.IntVar(&opts.BasePort, "base-port", 7400, "first port of the network's range")
	f.DurationVar(&opts.BatchTimeout, "batch-timeout", 0, "how long the block cutter waits after a block's first transaction (default 250ms)")
	f.BoolVar(&detach, "detach", false, "return once the network is ready")
	f.DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait for the network to be ready")
	return cmd
}

func printEndpoints(cmd *cobra.Command, n *network.Network) {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tROLE\tORGANIZATION\tADDRESS\tOPERATIONS")
	for _, nd := range n.Spec.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\thttp://%s\n", nd.Name, nd.Role, nd.MSPID, nd.Address, nd.OpsAddress)
	}
	w.Flush()
	fmt.Fprintf(cmd.OutOrStdout(), "client profiles: %s (Caliper: %s)\n", n.Dir+"/profiles", n.CaliperNetworkPath())
	fmt.Fprintf(cmd.OutOrStdout(), "certificates expire on %s; every node warns 30 days before and exports chorus_certificate_expiry_timestamp_seconds\n",
		n.Spec.CertsExpire.Format("2006-01-02"))
}

func newDownCmd() *cobra.Command {
	var dir string
	var purge bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a local network (keeps its data; --purge removes it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := network.Load(dir)
			if err != nil {
				return err
			}
			return n.Down(30*time.Second, purge, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultDir, "the network's directory")
	cmd.Flags().BoolVar(&purge, "purge", false, "also delete the network's directory and all its data")
	return cmd
}

func newStatusCmd() *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each node: role, address, process, health, height per channel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := network.Load(dir)
			if err != nil {
				return err
			}
			sts := n.Status(cmd.Context())
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sts)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tROLE\tORGANIZATION\tADDRESS\tPID\tHEALTH\tREADY\tCHANNELS")
			for _, s := range sts {
				chans := ""
				for _, c := range s.Channels {
					chans += fmt.Sprintf("%s height %d", c.Channel, c.Height)
					if c.RaftRole != "" {
						chans += " (" + c.RaftRole + ")"
					}
					chans += " "
				}
				pid := "-"
				if s.Running {
					pid = fmt.Sprint(s.PID)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", s.Name, s.Role, s.MSPID, s.Address, pid, s.Health, s.Ready, chans)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultDir, "the network's directory")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
