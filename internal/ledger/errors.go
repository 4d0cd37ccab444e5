package ledger

import "errors"

// Errors callers branch on with errors.Is. They are never returned bare:
// each is wrapped with the package prefix and the details, as in
// "ledger: append block 7 to channel mychannel: wrong block number: the
// ledger's height is 5".
var (
	// ErrNotFound: no such block, block hash or transaction id below the
	// ledger's height.
	ErrNotFound = errors.New("not found")

	// ErrBlockNumber: Append was given a block whose number is not the
	// ledger's height.
	ErrBlockNumber = errors.New("wrong block number")

	// ErrPreviousHash: the block's previous hash is not the hash of the
	// ledger's last block.
	ErrPreviousHash = errors.New("previous hash mismatch")

	// ErrDataHash: the block's data hash does not match its transactions.
	ErrDataHash = errors.New("data hash mismatch")

	// ErrInvalidBlock: the block is malformed in another way (no header,
	// a transaction filter of the wrong length, undecodable metadata).
	ErrInvalidBlock = errors.New("invalid block")

	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("ledger closed")

	// ErrFailed: an earlier commit failed, so what is durable is unknown;
	// the ledger refuses further appends until it is reopened.
	ErrFailed = errors.New("an earlier commit failed; reopen the ledger")

	// ErrCorrupt: Open found stored data that contradicts itself.
	ErrCorrupt = errors.New("stored ledger is inconsistent")

	// ErrNewerFormat: the stored ledger was written by a newer Chorus.
	ErrNewerFormat = errors.New("written by a newer format")
)
