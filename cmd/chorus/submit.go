package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/chorusledger/chorus/internal/network"
	"github.com/chorusledger/chorus/sdk/client"
	"github.com/spf13/cobra"
)

// clientFlags choose the client profile: --profile FILE, or the first
// organization's client profile of the local network in --dir.
type clientFlags struct {
	dir, profile, channel string
	timeout               time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", defaultDir, "a local network's directory: use its first organization's client profile")
	cmd.Flags().StringVar(&f.profile, "profile", "", "a client profile (JSON) for any network; overrides --dir")
	cmd.Flags().StringVar(&f.channel, "channel", "", "the channel (default: the profile's)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", time.Minute, "how long to wait")
}

func (f *clientFlags) profilePath() (string, error) {
	if f.profile != "" {
		return f.profile, nil
	}
	n, err := network.Load(f.dir)
	if err != nil {
		return "", fmt.Errorf("%w (give --dir of a network made by chorus up, or --profile)", err)
	}
	for _, o := range n.Spec.Orgs {
		if !o.Orderer {
			return n.ProfilePath(o.MSPID, false), nil
		}
	}
	return "", fmt.Errorf("the network in %s has no client organization", f.dir)
}

func (f *clientFlags) contract(cmd *cobra.Command, name string) (*client.Contract, func(), context.Context, context.CancelFunc, error) {
	path, err := f.profilePath()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	gw, err := client.Connect(filepath.Clean(path))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	channel := f.channel
	if channel == "" {
		channel = gw.DefaultChannel()
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	return gw.Network(channel).Contract(name), func() { gw.Close() }, ctx, cancel, nil
}

// call makes one contract call, args being CONTRACT FUNCTION [ARGS...],
// through the profile's Gateway, and prints its result.
func (f *clientFlags) call(cmd *cobra.Command, args []string, call func(*client.Contract, context.Context, string, ...string) ([]byte, error)) error {
	c, closeGW, ctx, cancel, err := f.contract(cmd, args[0])
	if err != nil {
		return err
	}
	defer closeGW()
	defer cancel()
	res, err := call(c, ctx, args[1], args[2:]...)
	if err != nil {
		return err
	}
	return printResult(cmd, res)
}

// printResult prints a contract's result, ending the line.
func printResult(cmd *cobra.Command, res []byte) error {
	out := cmd.OutOrStdout()
	if _, err := out.Write(res); err != nil {
		return err
	}
	if len(res) > 0 && res[len(res)-1] != '\n' {
		_, err := fmt.Fprintln(out)
		return err
	}
	return nil
}

func newSubmitCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "submit CONTRACT FUNCTION [ARGS...]",
		Short: "Endorse, order and wait for commit; print the result",
		Long: `Submit a transaction: have it endorsed as the contract's policy requires,
ordered, and committed, then print the contract's result. On failure print
the reason (the endorsers' errors, or the validation code) and exit non-zero.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, args, (*client.Contract).Submit)
		},
	}
	f.register(cmd)
	return cmd
}

func newEvaluateCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "evaluate CONTRACT FUNCTION [ARGS...]",
		Short: "Query a contract without ordering; print the result",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, args, (*client.Contract).Evaluate)
		},
	}
	f.register(cmd)
	return cmd
}
