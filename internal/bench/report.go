package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run. Its JSON form is `chorus bench --output
// json`; committed_tps, failed, latency_ms and signature_bound_tps are
// stable names.
type Report struct {
	Started  time.Time `json:"started"`
	Workload Workload  `json:"workload"`
	// Mode is "closed-loop" or "fixed-rate".
	Mode string `json:"mode"`
	// OfferedTPS is the rate of transactions due in the measured window
	// (fixed rate), or sent in it (closed loop).
	OfferedTPS float64 `json:"offered_tps"`

	// Submitted = Committed + Failed: every transaction due in the
	// measured window, and its fate. For the read workload a transaction
	// is an evaluation, and committed means answered.
	Submitted int `json:"submitted"`
	Committed int `json:"committed"`
	Failed    int `json:"failed"`
	// FailuresByCode counts failures by validation code (such as
	// MVCC_READ_CONFLICT) or by the step that failed before commit
	// (ENDORSE_FAILED, ENDORSEMENTS_DIFFER, SUBMIT_FAILED,
	// COMMIT_STATUS_FAILED, EVALUATE_FAILED); FailureExamples holds one
	// message per code.
	FailuresByCode  map[string]int    `json:"failures_by_code"`
	FailureExamples map[string]string `json:"failure_examples,omitempty"`

	// CommittedTPS is Committed over WindowSeconds: from the measured
	// window's start to the last measured commit status.
	CommittedTPS  float64 `json:"committed_tps"`
	WindowSeconds float64 `json:"window_seconds"`
	// LatencyMS runs from submission (or, at a fixed rate, from when the
	// transaction was due) to its commit status, for committed
	// transactions.
	LatencyMS Latency `json:"latency_ms"`
	// PhasesMS splits LatencyMS by step (absent for read).
	PhasesMS *Phases `json:"phases_ms,omitempty"`

	SignatureBound    SignatureBound `json:"signature_bound"`
	SignatureBoundTPS float64        `json:"signature_bound_tps"`
	// BoundRatio is CommittedTPS over SignatureBoundTPS.
	BoundRatio float64 `json:"bound_ratio"`

	Processes []ProcessCPU `json:"processes,omitempty"`
	Settings  Settings     `json:"settings"`
	Ledger    *LedgerCheck `json:"ledger,omitempty"`
	Series    []Second     `json:"series"`
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Settings are what shape the figures.
type Settings struct {
	Contract        string   `json:"contract"`
	Channel         string   `json:"channel"`
	Workers         int      `json:"workers"`
	Rate            float64  `json:"rate,omitempty"`
	Connections     int      `json:"connections_per_org"`
	Organizations   []string `json:"client_organizations"`
	DurationSeconds float64  `json:"duration_seconds,omitempty"`
	Transactions    int      `json:"transactions,omitempty"`
	WarmupSeconds   float64  `json:"warmup_seconds"`
	Keys            int      `json:"keys,omitempty"`
	Preload         int      `json:"preload,omitempty"`
	PreloadBatch    int      `json:"preload_batch,omitempty"`
	// PreloadSeconds is how long the preload took, to its last commit.
	PreloadSeconds float64 `json:"preload_seconds,omitempty"`
	// SettleSeconds is how long the run then waited for the nodes' CPU
	// to fall back to idle (Pebble compacting what the preload wrote),
	// so that neither the signature bound nor the window measures it.
	SettleSeconds float64 `json:"settle_seconds,omitempty"`
	// BusyAfterPreload is set when the nodes were not idle within the
	// wait's limit, and the run measured them anyway.
	BusyAfterPreload bool `json:"busy_after_preload,omitempty"`
	// PreloadTransactions is how many transactions the preload committed.
	PreloadTransactions int           `json:"preload_transactions,omitempty"`
	ValueBytes          int           `json:"value_bytes,omitempty"`
	EndorsementPolicy   string        `json:"endorsement_policy"`
	Orderers            int           `json:"orderers,omitempty"`
	Peers               int           `json:"peers,omitempty"`
	TLS                 string        `json:"tls"`
	Fsync               string        `json:"fsync"`
	BlockCutting        *BlockCutting `json:"block_cutting,omitempty"`
	// SignatureCacheHits and SignatureCacheMisses are summed over the
	// nodes, in the measured window.
	SignatureCacheHits   uint64 `json:"signature_cache_hits"`
	SignatureCacheMisses uint64 `json:"signature_cache_misses"`
	LedgerHeightStart    uint64 `json:"ledger_height_start,omitempty"`
	// RaftLeaders names the orderer that led the channel's consensus when
	// the measured window began and when it ended (one name when the same):
	// when it is not the orderer the Gateways submit to, every envelope is
	// forwarded to it, which costs CPU (docs/performance.md).
	RaftLeaders []string `json:"raft_leaders,omitempty"`
}

// BlockCutting is the channel's block cutter configuration.
type BlockCutting struct {
	MaxMessageCount   uint32  `json:"max_message_count"`
	PreferredMaxBytes uint32  `json:"preferred_max_bytes"`
	BatchTimeoutMS    float64 `json:"batch_timeout_ms"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	s := r.Settings
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("workload %s, %s, %d workers", r.Workload, r.Mode, s.Workers)
	if s.Rate > 0 {
		p(" at %.0f tx/s", s.Rate)
	}
	p(", over %d connection(s) per organization (%s)\n", s.Connections, strings.Join(s.Organizations, ", "))
	p("contract %s on channel %s, endorsement policy %s\n", s.Contract, s.Channel, s.EndorsementPolicy)
	if r.Interrupted {
		p("INTERRUPTED: the figures cover the transactions sent until then\n")
	}
	p("\n")
	p("submitted   %d\n", r.Submitted)
	p("committed   %d\n", r.Committed)
	p("failed      %d", r.Failed)
	for _, code := range slices.Sorted(maps.Keys(r.FailuresByCode)) {
		p("  %s %d", code, r.FailuresByCode[code])
	}
	p("\n")
	for _, code := range slices.Sorted(maps.Keys(r.FailureExamples)) {
		p("  e.g. %s: %s\n", code, r.FailureExamples[code])
	}
	p("throughput  %.1f tx/s committed (offered %.1f tx/s; window %.1f s)\n", r.CommittedTPS, r.OfferedTPS, r.WindowSeconds)
	l := r.LatencyMS
	p("latency     p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (submit to commit status)\n", l.P50, l.P95, l.P99, l.Max)
	if ph := r.PhasesMS; ph != nil {
		for _, step := range []struct {
			name string
			l    Latency
		}{{"queued", ph.Queued}, {"endorse", ph.Endorse}, {"order", ph.Order}, {"commit", ph.Commit}} {
			if step.name == "queued" && step.l.Max == 0 {
				continue
			}
			p("  %-9s p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", step.name, step.l.P50, step.l.P99, step.l.Max)
		}
	}
	b := r.SignatureBound
	p("\nsignature bound  %.0f tx/s = %s\n", b.BoundTPS, b.Formula)
	if b.VerifyNewKeyUS > 0 {
		p("                 (verify: a key with its precomputed table, as nodes verify keys that sign often; %.1f µs without)\n", b.VerifyNewKeyUS)
	}
	p("reached          %.1f%% of the bound\n", r.BoundRatio*100)

	if len(r.Processes) > 0 {
		p("\nCPU in the measured window:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "process\trole\tCPU s\tcores\tµs/tx\tsig cache hits\tverified\t")
		var total float64
		for _, pc := range r.Processes {
			if pc.Error != "" && pc.CPUSeconds == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\n", pc.Name, pc.Role, pc.Error)
				continue
			}
			total += pc.CPUSeconds
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.0f\t%d\t%d\t\n", pc.Name, pc.Role, pc.CPUSeconds, pc.CoresUsed, pc.CPUSecondsPerTx*1e6, pc.SigCacheHits, pc.SigCacheMisses)
		}
		if r.Committed > 0 {
			fmt.Fprintf(tw, "all\t\t%.2f\t\t%.0f\t%d\t%d\t\n", total, total/float64(r.Committed)*1e6, s.SignatureCacheHits, s.SignatureCacheMisses)
		}
		tw.Flush()
		for _, pc := range r.Processes {
			if pc.ProfileError != "" {
				p("  no CPU profile of %s: %s\n", pc.Name, pc.ProfileError)
			}
		}
	}
	if procs, rows := r.cpuByCategory(); len(rows) > 0 {
		p("\nCPU by category (share of each process's CPU profile; µs per transaction over all):\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "category\t%s\tµs/tx\t\n", strings.Join(procs, "\t"))
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t", row.Category)
			for _, share := range row.Shares {
				fmt.Fprintf(tw, "%.1f%%\t", share*100)
			}
			fmt.Fprintf(tw, "%.0f\t\n", row.MicrosPerTx)
		}
		tw.Flush()
	}

	p("\nsettings: TLS %s; fsync %s", s.TLS, s.Fsync)
	if bc := s.BlockCutting; bc != nil {
		p("; blocks cut at %d transactions, %d bytes or %.0f ms", bc.MaxMessageCount, bc.PreferredMaxBytes, bc.BatchTimeoutMS)
	}
	if s.ValueBytes > 0 {
		p("; values of %d bytes", s.ValueBytes)
	}
	if s.Preload > 0 {
		p("; %d assets preloaded", s.Preload)
		if s.PreloadBatch > 1 {
			p(" (%d a transaction, %d transactions)", s.PreloadBatch, s.PreloadTransactions)
		}
		if s.PreloadSeconds > 0 {
			p(" in %.1f s", s.PreloadSeconds)
		}
		if s.SettleSeconds > 0 {
			p(", the nodes %s %.1f s later", settleWord(s.BusyAfterPreload), s.SettleSeconds)
		}
	}
	if len(s.RaftLeaders) > 0 {
		p("; Raft leader %s", strings.Join(s.RaftLeaders, " then "))
	}
	if s.LedgerHeightStart > 0 {
		p("; ledger height %d at start", s.LedgerHeightStart)
	}
	p("\n")
	if lc := r.Ledger; lc != nil {
		p("\nledger: ")
		if lc.Verified {
			p("every node's ledger verified (hash links, data hashes, Merkle roots, commit hashes, orderer signatures, indexes)")
		} else {
			p("VERIFICATION FAILED")
		}
		if lc.CommitHashesEqual {
			p("; the peers' commit hashes are equal at height %d\n", lc.Height)
		} else {
			p("; the peers' commit hashes DIFFER (or could not be compared) at height %d\n", lc.Height)
		}
		if lc.Problem != "" {
			p("  %s\n", lc.Problem)
		}
		for _, nl := range lc.Nodes {
			if nl.Failure != "" {
				p("  %s: %s\n", nl.Name, nl.Failure)
			} else if nl.CommitHash != "" {
				p("  %s: height %d, commit hash %s\n", nl.Name, nl.Height, nl.CommitHash)
			}
		}
	}
	return nil
}

// OK reports whether the run met its own conditions of validity: nothing
// interrupted, and, when the ledgers were checked, every one verified
// with equal commit hashes.
func (r *Report) OK() bool {
	if r.Interrupted {
		return false
	}
	return r.Ledger == nil || (r.Ledger.Verified && r.Ledger.CommitHashesEqual)
}

// settleWord says how the nodes were when a run stopped waiting for them
// after a preload.
func settleWord(busy bool) string {
	if busy {
		return "still busy"
	}
	return "idle"
}
