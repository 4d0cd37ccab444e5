// Package bench drives a Chorus network with transactions the way
// Hyperledger Caliper does, and measures what the network does with them.
//
// A Run connects one Gateway client per organization (sdk/client, TLS, every
// proposal, envelope and commit-status request really signed), offers load
// closed-loop (a number of workers, each waiting for its transaction's commit
// status before sending the next) or at a fixed rate (an open schedule whose
// latencies are measured from the scheduled instant, so a slow network is
// not hidden by a slow client), skips a warm-up, and records each
// transaction's fate: committed valid, committed invalid with its validation
// code, or failed before commit (endorsement, submission, commit status).
//
// The Report it returns holds committed throughput counted from commit
// status, latency percentiles from submit to commit status, the signature
// bound of DESIGN §11 measured in the same run, the CPU each node process
// spent per transaction, the settings that shape the figures, a per-second
// series, and, when the network is local, a verification of every peer's
// ledger and a comparison of the peers' commit hashes.
package bench
