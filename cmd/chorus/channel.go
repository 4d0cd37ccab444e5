package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/node/transport"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

func newChannelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "channel",
		Short: "Create channels and manage which channels a node takes part in",
	}
	cmd.AddCommand(newChannelCreateCmd(), newChannelJoinCmd(), newChannelListCmd(), newChannelRemoveCmd())
	return cmd
}

func newChannelCreateCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "create DEFINITION.yaml --output GENESIS.block",
		Short: "Build a channel's genesis block from its YAML definition",
		Long: `Build the genesis block of a channel from a YAML channel definition
(organizations, consenters, block cutting, policies; see
docs/channel-definition.md). Nodes join the channel from this block with
'chorus channel join'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := channelconfig.LoadDefinition(args[0])
			if err != nil {
				return err
			}
			block, err := def.GenesisBlock()
			if err != nil {
				return err
			}
			data, err := proto.Marshal(block)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the genesis block of channel %s to %s\n", def.Name, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the genesis block (required)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// adminFlags are how a command reaches a node's admin API: mutual TLS with
// an admin's certificate.
type adminFlags struct {
	address string
	cert    string
	key     string
	caFile  string
	timeout time.Duration
}

func (f *adminFlags) register(cmd *cobra.Command) {
	f.registerOptional(cmd)
	for _, n := range []string{"admin-address", "cert", "key", "tls-ca"} {
		_ = cmd.MarkFlagRequired(n)
	}
}

// registerOptional adds the flags without requiring them, for commands
// that can also work without a running node.
func (f *adminFlags) registerOptional(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.address, "admin-address", "", "the node's admin API address, host:port (required)")
	cmd.Flags().StringVar(&f.cert, "cert", "", "an admin's certificate (OU=admin), used as the TLS client certificate (required)")
	cmd.Flags().StringVar(&f.key, "key", "", "the admin's private key (required)")
	cmd.Flags().StringVar(&f.caFile, "tls-ca", "", "the CA that issued the node's TLS certificate (required)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the node")
}

func (f *adminFlags) conn() (*grpc.ClientConn, error) {
	roots, err := transport.LoadCertPool(f.caFile)
	if err != nil {
		return nil, err
	}
	pair, err := transport.LoadKeyPair(f.cert, f.key, nil)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(f.address, append(transport.DialOptions(),
		grpc.WithTransportCredentials(credentials.NewTLS(transport.ClientTLS(roots, pair))))...)
}

func (f *adminFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), f.timeout)
}

// dial connects to the admin API's channel participation service.
func (f *adminFlags) dial() (adminpb.ChannelParticipationClient, func(), error) {
	conn, err := f.conn()
	if err != nil {
		return nil, nil, err
	}
	return adminpb.NewChannelParticipationClient(conn), func() { conn.Close() }, nil
}

// ledgerQuery connects to the admin API's ledger queries.
func (f *adminFlags) ledgerQuery() (adminpb.LedgerQueryClient, func(), error) {
	conn, err := f.conn()
	if err != nil {
		return nil, nil, err
	}
	return adminpb.NewLedgerQueryClient(conn), func() { conn.Close() }, nil
}

func newChannelJoinCmd() *cobra.Command {
	var f adminFlags
	var blockFile string
	cmd := &cobra.Command{
		Use:   "join --block GENESIS.block",
		Short: "Join a node to a channel from the channel's genesis block",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(blockFile)
			if err != nil {
				return err
			}
			block := &commonpb.Block{}
			if err := proto.Unmarshal(data, block); err != nil {
				return fmt.Errorf("%s is not a block: %w", blockFile, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			client, closeConn, err := f.dial()
			if err != nil {
				return err
			}
			defer closeConn()
			info, err := client.JoinChannel(ctx, &adminpb.JoinChannelRequest{GenesisBlock: block})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "joined channel %s (height %d)\n", info.Channel, info.Height)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&blockFile, "block", "", "the channel's genesis block (required)")
	_ = cmd.MarkFlagRequired("block")
	return cmd
}

func newChannelListCmd() *cobra.Command {
	var f adminFlags
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the channels a node takes part in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			client, closeConn, err := f.dial()
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := client.ListChannels(ctx, &adminpb.ListChannelsRequest{})
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res.Channels)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CHANNEL\tHEIGHT\tSTATUS\tROLE\tLEADER")
			for _, c := range res.Channels {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\n", c.Channel, c.Height, c.Status, c.ConsensusRole, c.ConsensusLeader)
			}
			return w.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newChannelRemoveCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "remove CHANNEL",
		Short: "Remove a channel from a node, deleting its blocks there",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			client, closeConn, err := f.dial()
			if err != nil {
				return err
			}
			defer closeConn()
			if _, err := client.RemoveChannel(ctx, &adminpb.RemoveChannelRequest{Channel: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed channel %s\n", args[0])
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
