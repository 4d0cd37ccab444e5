package main

import (
	"os"

	"github.com/chorusledger/chorus/internal/node"
	"github.com/spf13/cobra"
)

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a Chorus node",
	}
	cmd.AddCommand(newNodeStartCmd())
	return cmd
}

func newNodeStartCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "start --config FILE",
		Short: "Run one node (orderer or peer) from its YAML configuration",
		Long: `Run one node from its YAML configuration file. Environment variables
CHORUS_<FIELD_PATH> override the file (for example CHORUS_LOG_LEVEL=debug).
The node runs until SIGTERM or SIGINT, then drains: it stops accepting work,
finishes the block in hand, syncs, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(configPath, os.Environ())
			if err != nil {
				return err
			}
			logger, level := node.NewLogger(cfg.Log, os.Stderr)
			ctx, stop := node.SignalContext(cmd.Context())
			defer stop()
			return node.Run(ctx, cfg, logger, level)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the node's YAML configuration file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
