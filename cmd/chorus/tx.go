package main

import (
	"encoding/json"
	"fmt"

	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
)

func newTxCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Inspect transactions"}
	cmd.AddCommand(newTxStatusCmd())
	return cmd
}

func newTxStatusCmd() *cobra.Command {
	var f adminFlags
	var channel, output string
	cmd := &cobra.Command{
		Use:   "status TXID",
		Short: "Show a transaction's validation code, block, and the reason when invalid",
		Long: `Ask a peer where a transaction committed and with which validation code
(Fabric's numbers; see docs/validation-codes.md). For an invalid transaction
the reason is printed too: for an endorsement policy failure, the
principals that were missing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.context(cmd)
			defer cancel()
			q, closeConn, err := f.ledgerQuery()
			if err != nil {
				return err
			}
			defer closeConn()
			st, err := q.TransactionStatus(ctx, &adminpb.TransactionStatusRequest{Channel: channel, TxId: args[0]})
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "transaction %s\n  channel:  %s\n  block:    %d (transaction %d)\n  status:   %s (%d)\n",
				st.TxId, st.Channel, st.BlockNumber, st.TxNumber, st.ValidationCodeName, st.ValidationCode)
			if st.Reason != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "  reason:   %s\n", st.Reason)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&channel, "channel", "mychannel", "the channel")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newBlockCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "block", Short: "Inspect blocks"}
	var f adminFlags
	var channel string
	get := &cobra.Command{
		Use:   "get N",
		Short: "Print block N as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n uint64
			if _, err := fmt.Sscan(args[0], &n); err != nil {
				return fmt.Errorf("block number %q: %w", args[0], err)
			}
			ctx, cancel := f.context(cmd)
			defer cancel()
			q, closeConn, err := f.ledgerQuery()
			if err != nil {
				return err
			}
			defer closeConn()
			b, err := q.GetBlock(ctx, &adminpb.GetBlockRequest{Channel: channel, Number: n})
			if err != nil {
				return err
			}
			out, err := protojson.MarshalOptions{Multiline: true}.Marshal(b)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	f.register(get)
	get.Flags().StringVar(&channel, "channel", "mychannel", "the channel")
	cmd.AddCommand(get)
	return cmd
}
