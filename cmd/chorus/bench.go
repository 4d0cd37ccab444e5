package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/chorusledger/chorus/internal/bench"
	"github.com/chorusledger/chorus/internal/network"
	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	var workload, dir, output, htmlFile, profileDir string
	var profiles []string
	var connections, basePort int
	var batchTimeout time.Duration
	var networkUp, keep bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a network with transactions and measure throughput, latency and CPU",
		Long: `Drive a network the way Hyperledger Caliper does: workers submit through the
Gateway with every proposal, envelope and commit-status request signed, and
each transaction counts when its commit status comes back.

Workloads (the contract must offer Fabric's asset-transfer functions, as the
sample "assets" does):
  create    CreateAsset with unique ids and ~100-byte values (the standard workload)
  read      ReadAsset (evaluate) over --keys assets created first
  transfer  TransferAsset over --keys assets: read-modify-write, so a small key
            space provokes MVCC_READ_CONFLICT

Load is closed-loop (--workers each with one transaction in flight) or, with
--rate, a fixed schedule whose latencies count from when each transaction
was due. The first --warmup is not measured. The report gives committed
throughput counted from commit status, latency from submit to commit status,
failures by validation code, the signature bound of the machine (cores ÷
(5 × sign + 8 × verify), timed in the same run) and the ratio reached; on a
local network (--dir) also the CPU each node process spent per transaction,
the signature-cache hits, the block cutting, and it ends by verifying every
node's ledger and comparing the peers' commit hashes. With --profile-dir it
also profiles every node process and the bench itself over the measured
window and splits their CPU by category: contract runtime, signature
verification, signing, storage, consensus, protobuf, TLS, hashing, gRPC,
garbage collection (docs/performance.md).

With --network-up, bench first brings up the standard network (3 Raft
orderers, 2 organizations with one peer each, the assets contract with
AND('Org1MSP.peer','Org2MSP.peer')) in --dir, or in a temporary directory,
and tears it down at the end (deleting it when it was temporary).

Exits 1 when the ledgers do not verify or the commit hashes differ, or when
interrupted.`,
		Example: `  chorus bench --network-up --duration 60s
  chorus bench --dir ./chorus-net --workload transfer --keys 1000 --output json
  chorus bench --rate 1000 --duration 30s --html report.html
  chorus bench --network-up --workers 1000 --profile-dir ./profiles`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Workload = bench.Workload(workload)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logw := cmd.ErrOrStderr()
			t := bench.Target{Connections: connections, Progress: cmd.ErrOrStderr(), Terminal: isTerminal(cmd.ErrOrStderr()), Log: logw}

			var n *network.Network
			if networkUp {
				temp := !cmd.Flags().Changed("dir")
				if temp {
					d, err := os.MkdirTemp("", "chorus-bench-")
					if err != nil {
						return err
					}
					dir = d
				}
				bin, err := os.Executable()
				if err != nil {
					return err
				}
				upCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
				fmt.Fprintf(logw, "bringing up the standard network in %s\n", dir)
				n, err = network.Up(upCtx, network.Options{Dir: dir, BasePort: basePort, BatchTimeout: batchTimeout}, bin, logw)
				cancel()
				if err != nil {
					if temp {
						os.RemoveAll(dir)
					}
					return err
				}
				if !keep {
					defer func() {
						if err := n.Down(30*time.Second, temp, logw); err != nil {
							fmt.Fprintf(logw, "tearing the network down: %v\n", err)
						}
					}()
				}
			}
			if len(profiles) == 0 {
				if n == nil {
					var err error
					if n, err = network.Load(dir); err != nil {
						return fmt.Errorf("%w (give --dir of a network made by chorus up, --profile, or --network-up)", err)
					}
				}
				for _, o := range n.Spec.Orgs {
					if !o.Orderer {
						profiles = append(profiles, n.ProfilePath(o.MSPID, false))
					}
				}
			}
			t.Profiles, t.Network = profiles, n
			// The load generator shares the machine with the network when
			// both are local: a collection every 4× growth of its live heap
			// instead of 2× halves the CPU its garbage collector takes from
			// the nodes. Every signature and message stays real.
			debug.SetGCPercent(400)
			t.ProfileDir = profileDir
			rep, err := bench.Run(ctx, cfg, t)
			if err != nil {
				return err
			}
			if htmlFile != "" {
				if err := writeHTMLReport(htmlFile, rep); err != nil {
					return err
				}
				fmt.Fprintf(logw, "HTML report written to %s\n", htmlFile)
			}
			if output == "json" {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
				err = rep.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			switch {
			case rep.Interrupted:
				return errors.New("interrupted: the report covers the transactions sent until then; the ledgers were not checked")
			case !rep.OK():
				return errors.New("the run is not valid: see the ledger check above")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&workload, "workload", string(bench.Create), "create, read or transfer")
	f.StringVar(&cfg.Contract, "contract", cfg.Contract, "the contract (Fabric's asset-transfer API)")
	f.StringVar(&cfg.Channel, "channel", "", "the channel (default: the profiles')")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent clients (closed loop), or most transactions in flight (--rate)")
	f.Float64Var(&cfg.Rate, "rate", 0, "offer this many transactions per second on a fixed schedule (default: closed loop)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to measure, after the warm-up")
	f.IntVar(&cfg.Transactions, "transactions", 0, "measure this many transactions instead of a duration")
	f.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load sent first and not measured")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "key space of read and transfer (assets created first when absent)")
	f.IntVar(&cfg.Preload, "preload", 0, "create this many assets before measuring, to measure a fuller ledger")
	f.IntVar(&cfg.PreloadBatch, "preload-batch", cfg.PreloadBatch, "assets a preload transaction creates: 1 calls CreateAsset per asset, more call CreateAssets (a bulk load)")
	f.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes of each asset's JSON that create writes")
	f.DurationVar(&cfg.Timeout, "tx-timeout", cfg.Timeout, "the longest a transaction may take, endorsement to commit status")
	f.IntVar(&connections, "connections", 1, "Gateway connections per organization")
	f.StringVar(&dir, "dir", defaultDir, "a local network's directory: its organizations' client profiles, and its nodes to measure")
	f.StringSliceVar(&profiles, "profile", nil, "client profile(s) of any network, one per organization (overrides --dir's; no node measurements)")
	f.BoolVar(&networkUp, "network-up", false, "bring up the standard network first (in --dir, else a temporary directory) and tear it down after")
	f.BoolVar(&keep, "keep", false, "with --network-up: leave the network running")
	f.IntVar(&basePort, "base-port", 7400, "with --network-up: the first port of the network's range")
	f.DurationVar(&batchTimeout, "batch-timeout", 0, "with --network-up: the block cutter's timeout (default chorus up's)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.StringVar(&htmlFile, "html", "", "also write an HTML report with throughput and latency over time")
	f.StringVar(&profileDir, "profile-dir", "", "write a CPU profile of every measured process (nodes need operations.profiling, as chorus up sets) to this directory and split each by category in the report")
	return cmd
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeHTMLReport(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
