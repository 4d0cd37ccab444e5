package bench

import (
	"errors"
	"fmt"
	"time"
)

// Workload names the transactions a run offers.
type Workload string

// The workloads.
const (
	// Create submits CreateAsset with a unique id per transaction and a
	// value of Config.ValueSize bytes: every transaction writes a new key,
	// so none conflicts. The standard workload of DESIGN §11.
	Create Workload = "create"
	// Read evaluates ReadAsset over Config.Keys assets created before the
	// run: queries, answered by one peer, never ordered.
	Read Workload = "read"
	// Transfer submits TransferAsset over Config.Keys assets created before
	// the run: each transaction reads and rewrites one key, so concurrent
	// transactions on the same key conflict (MVCC_READ_CONFLICT) as often as
	// the key space is small.
	Transfer Workload = "transfer"
)

// Workloads lists the workloads, for help texts.
var Workloads = []Workload{Create, Read, Transfer}

// Config is what a run offers and for how long.
type Config struct {
	Workload Workload
	// Contract is the contract the workload calls: Fabric's asset-transfer
	// API (CreateAsset, ReadAsset, TransferAsset), as samples/assets is.
	Contract string
	// Channel is the channel; empty means each client profile's own.
	Channel string

	// Workers is the number of concurrent clients: in a closed loop each
	// has one transaction in flight at a time; at a fixed rate it is the
	// most transactions in flight at once.
	Workers int
	// Rate, when positive, offers that many transactions per second on a
	// fixed schedule (open loop) instead of a closed loop.
	Rate float64
	// Duration is how long transactions are measured, after Warmup.
	// Transactions, when positive, instead ends the measurement after that
	// many transactions were sent.
	Duration     time.Duration
	Transactions int
	// Warmup is sent first and not measured: connections, caches, the
	// contract runtime and the block cutter reach their steady state.
	Warmup time.Duration

	// Keys is the key space of read and transfer: assets bench-<Keys>-<i>
	// created (when absent) before the run.
	Keys int
	// Preload creates that many assets before the run (in any workload),
	// to measure a ledger holding them. Their ids are unique to the run.
	Preload int
	// PreloadBatch is how many of the preloaded assets one transaction
	// creates: 1 calls CreateAsset for each, more call the sample
	// contract's CreateAssets with that many at once (a bulk load: the
	// ledger ends with fewer, larger transactions and the same state).
	PreloadBatch int
	// ValueSize is the size in bytes of each asset's JSON that create
	// writes (about; the owner field is padded to reach it).
	ValueSize int

	// Timeout bounds each transaction, from endorsement to commit status.
	Timeout time.Duration
}

// MaxPreloadBatch bounds Config.PreloadBatch, and MaxPreloadBatchBytes
// the batch's assets' JSON, PreloadBatch × ValueSize: a transaction
// carries each asset about three times (the argument, the write, the
// proposal response's copy of it), so 2 MiB of assets make about 6 MB,
// under the 10 MiB a block may hold on a network chorus up makes.
const (
	MaxPreloadBatch      = 10000
	MaxPreloadBatchBytes = 2 << 20
)

// DefaultConfig is the standard workload of DESIGN §11, closed loop.
func DefaultConfig() Config {
	return Config{
		Workload:     Create,
		Contract:     "assets",
		Workers:      256,
		Duration:     60 * time.Second,
		Warmup:       10 * time.Second,
		Keys:         1000,
		PreloadBatch: 1,
		ValueSize:    100,
		Timeout:      2 * time.Minute,
	}
}

func (c *Config) validate() error {
	switch c.Workload {
	case Create, Read, Transfer:
	default:
		return fmt.Errorf("bench: unknown workload %q (want %v)", c.Workload, Workloads)
	}
	var errs []error
	if c.Contract == "" {
		errs = append(errs, errors.New("a contract name is required"))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers must be at least 1, not %d", c.Workers))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must not be negative, not %v", c.Rate))
	}
	if c.Duration <= 0 && c.Transactions <= 0 {
		errs = append(errs, errors.New("give a duration or a number of transactions"))
	}
	if c.Transactions < 0 || c.Warmup < 0 || c.Preload < 0 {
		errs = append(errs, errors.New("transactions, warm-up and preload must not be negative"))
	}
	if c.PreloadBatch < 1 || c.PreloadBatch > MaxPreloadBatch {
		errs = append(errs, fmt.Errorf("the preload batch must be between 1 and %d assets, not %d", MaxPreloadBatch, c.PreloadBatch))
	} else if c.PreloadBatch > 1 && c.PreloadBatch*c.ValueSize > MaxPreloadBatchBytes {
		errs = append(errs, fmt.Errorf("a preload batch of %d assets of %d bytes (--preload-batch × --value-size) is over %d bytes: make a transaction smaller", c.PreloadBatch, c.ValueSize, MaxPreloadBatchBytes))
	}
	if (c.Workload == Read || c.Workload == Transfer) && c.Keys < 1 {
		errs = append(errs, fmt.Errorf("the %s workload needs a key space of at least 1, not %d", c.Workload, c.Keys))
	}
	if c.ValueSize < 64 || c.ValueSize > 1<<20 {
		errs = append(errs, fmt.Errorf("value size must be between 64 bytes and 1 MiB, not %d", c.ValueSize))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("the transaction timeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// closedLoop reports whether the run offers load closed-loop.
func (c *Config) closedLoop() bool { return c.Rate <= 0 }
