package main

import (
	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. Commands are built by constructor
// functions, never held in package variables, so tests can build fresh
// trees.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "chorus",
		Short: "Chorus: a permissioned blockchain for consortiums",
		Long: `Chorus is a permissioned blockchain for consortiums: organizations run their
own nodes, share one hash-chained ledger per channel, run contracts and agree
on the order of transactions through Raft. It speaks Fabric's wire protocol,
so Fabric Gateway clients work against it unchanged.

One binary plays every role: chorus node start runs a peer or an orderer.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(), newNodeCmd(), newChannelCmd(), newLedgerCmd(), newTxCmd(), newBlockCmd(),
		newUpCmd(), newDownCmd(), newStatusCmd(), newSubmitCmd(), newEvaluateCmd(), newContractCmd(), newBenchCmd())
	return root
}
