package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/participation"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
)

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect and verify a node's ledger",
	}
	cmd.AddCommand(newLedgerVerifyCmd())
	return cmd
}

func newLedgerVerifyCmd() *cobra.Command {
	var path, channel, output string
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "verify (--path DIR | --admin-address HOST:PORT --cert FILE --key FILE --tls-ca FILE --channel NAME)",
		Short: "Check every hash link, data hash, Merkle root, commit hash and orderer signature",
		Long: `Walk a node's ledger and check every block: the previous-hash link, the
data hash, the Merkle root the orderers signed, the commit hash chaining
the valid writes (on peers), the orderer signatures against the channel's
configuration, and the block and transaction indexes. Prints a summary per
channel; exits non-zero naming the first block and check that failed.

On a stopped node, give --path: the node's database directory (DATADIR/db);
a running node holds the database lock. On a running node, give its admin
API (--admin-address and an admin's --cert, --key, --tls-ca) and --channel:
the node verifies its ledger over one snapshot while it keeps working.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case path != "" && f.address != "":
				return errors.New("give --path (a stopped node) or --admin-address (a running node), not both")
			case f.address != "":
				return verifyOnline(cmd, &f, channel, output)
			case path == "":
				return errors.New("give --path (a stopped node's database directory) or --admin-address (a running node)")
			}
			reports, err := channelconfig.VerifyPath(path, channel)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if e := enc.Encode(reports); e != nil {
					return e
				}
			} else {
				for _, r := range reports {
					printLedgerReport(cmd.OutOrStdout(), participation.LedgerReport(r, nil))
				}
			}
			if err != nil {
				var ve *ledger.VerifyError
				if errors.As(err, &ve) {
					return fmt.Errorf("verification failed: channel %s, block %d, check %q: %w", ve.Channel, ve.Block, ve.Check, err)
				}
				return err
			}
			if output != "json" {
				fmt.Fprintln(cmd.OutOrStdout(), "ledger verified")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "a stopped node's database directory")
	cmd.Flags().StringVar(&channel, "channel", "", "verify only this channel (default: every channel found; required with --admin-address)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.registerOptional(cmd)
	return cmd
}

func verifyOnline(cmd *cobra.Command, f *adminFlags, channel, output string) error {
	if channel == "" {
		return errors.New("--channel is required with --admin-address")
	}
	if f.cert == "" || f.key == "" || f.caFile == "" {
		return errors.New("--cert, --key and --tls-ca are required with --admin-address")
	}
	ctx, cancel := f.context(cmd)
	defer cancel()
	q, closeConn, err := f.ledgerQuery()
	if err != nil {
		return err
	}
	defer closeConn()
	rep, err := q.VerifyLedger(ctx, &adminpb.VerifyLedgerRequest{Channel: channel})
	if err != nil {
		return err
	}
	if output == "json" {
		out, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), string(out))
	} else {
		printLedgerReport(cmd.OutOrStdout(), rep)
	}
	if rep.Failure != "" {
		return fmt.Errorf("verification failed: channel %s, block %d, check %q: %s", rep.Channel, rep.FailedBlock, rep.FailedCheck, rep.Failure)
	}
	if output != "json" {
		fmt.Fprintln(cmd.OutOrStdout(), "ledger verified")
	}
	return nil
}

func printLedgerReport(w io.Writer, r *adminpb.LedgerReport) {
	fmt.Fprintf(w, "channel %s: %d blocks, %d transactions (%d valid, %d invalid, %d not validated); Merkle roots checked on %d blocks, commit hashes on %d, signatures on %d\n",
		r.Channel, r.Blocks, r.Transactions, r.Valid, r.Invalid, r.NotValidated, r.MerkleRootsChecked, r.CommitHashesChecked, r.SignaturesChecked)
	if len(r.LastCommitHash) > 0 {
		fmt.Fprintf(w, "  commit hash at height %d: %x\n", r.Height, r.LastCommitHash)
	}
}
