// Package ledgerpb holds the generated Go for chorus.ledger.v1: the
// consenter metadata signed into every block (with the Merkle root of its
// transactions) and the records a node keeps beside its blocks. Generated
// by `make proto`.
package ledgerpb
