package contract

import "time"

// Stub is what a transaction function sees of the transaction it runs in:
// its arguments, the world state of the contract's own namespace, the
// creator, id, timestamp and channel, its event, and the other contracts
// of the channel. It is Fabric's ChaincodeStubInterface, narrowed to what
// Chorus supports and with Fabric's names, so that Fabric chaincode ports
// with few changes.
//
// A Stub belongs to one invocation and one goroutine, and is valid only
// until the invocation returns. Every answer is deterministic (the ABI's
// §8): the same committed state and transaction give the same answers on
// every peer.
type Stub interface {
	// GetArgs returns every argument of the invocation, the function name
	// first, as the client sent them.
	GetArgs() [][]byte
	// GetStringArgs returns GetArgs as strings.
	GetStringArgs() []string
	// GetFunctionAndParameters returns the first argument as the function
	// name (as sent: a "Contract:" prefix is kept) and the rest as
	// parameters; "" and nil when there are no arguments.
	GetFunctionAndParameters() (function string, params []string)

	// GetTxID returns the transaction id (hex).
	GetTxID() string
	// GetChannelID returns the channel the transaction runs on.
	GetChannelID() string
	// GetTxTimestamp returns the timestamp the client put in the proposal:
	// the same on every endorser, unlike the clock, which a contract must
	// not read.
	GetTxTimestamp() (time.Time, error)
	// GetCreator returns the identity that created the transaction, as it
	// signed the proposal: the bytes of its msp.SerializedIdentity. Package
	// cid reads it.
	GetCreator() ([]byte, error)
	// GetMSPID returns the MSP id of the transaction's creator. (Fabric's
	// shim.GetMSPID returns the peer's MSP id; Chorus does not tell a
	// contract which peer runs it.)
	GetMSPID() (string, error)

	// GetState returns the committed value of key, or nil when the key is
	// absent. A transaction never sees its own writes: after PutState(k),
	// GetState(k) still returns the value committed before the
	// transaction, as in Fabric.
	GetState(key string) ([]byte, error)
	// PutState records a write of value to key; the last write of a key
	// wins. The key must be non-empty valid UTF-8 of at most 64 KiB, the
	// value at most 16 MiB. An empty value deletes the key.
	PutState(key string, value []byte) error
	// DelState records the deletion of key.
	DelState(key string) error
	// GetStateByRange returns the committed entries with keys in
	// [startKey, endKey), in key order. An empty endKey means no upper
	// bound; an empty startKey starts after the composite keys (it is
	// replaced by "\x01", as Fabric's shim does), and bounds beginning with
	// U+0000 are refused: composite keys are read with
	// GetStateByPartialCompositeKey.
	GetStateByRange(startKey, endKey string) (StateQueryIterator, error)
	// GetStateByPartialCompositeKey returns the committed entries whose
	// composite keys have objectType and begin with the attributes keys,
	// in key order.
	GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIterator, error)
	// CreateCompositeKey returns CreateCompositeKey(objectType, attributes).
	CreateCompositeKey(objectType string, attributes []string) (string, error)
	// SplitCompositeKey returns SplitCompositeKey(compositeKey).
	SplitCompositeKey(compositeKey string) (objectType string, attributes []string, err error)
	// GetHistoryForKey returns every committed write and delete of key,
	// newest first. As in Fabric, history reads are not validated at
	// commit: a contract must not base writes on them.
	GetHistoryForKey(key string) (HistoryQueryIterator, error)

	// SetEvent sets the event the transaction emits; name must not be
	// empty. A transaction emits at most one event: the last one set. An
	// event set by a contract called through InvokeContract is dropped, as
	// in Fabric.
	SetEvent(name string, payload []byte) error

	// InvokeContract calls the contract called name, defined on the same
	// channel, in the same transaction: args[0] is its function name. The
	// callee sees its own namespace; its reads and writes join the
	// transaction's. A failure to call it is a Response with status 500.
	InvokeContract(name string, args [][]byte) Response
}

// StateQueryIterator walks the entries of a range query, in key order:
//
//	it, err := stub.GetStateByRange("", "")
//	if err != nil { ... }
//	defer it.Close()
//	for it.HasNext() {
//		kv, err := it.Next()
//		if err != nil { ... }
//		...
//	}
type StateQueryIterator interface {
	// HasNext reports whether Next has an entry, or an error, to return.
	HasNext() bool
	// Next returns the next entry.
	Next() (*KV, error)
	// Close releases the iterator. An invocation may have a limited number
	// of iterators open, so close each one when done.
	Close() error
}

// HistoryQueryIterator walks the modifications of a key, newest first, like
// StateQueryIterator.
type HistoryQueryIterator interface {
	HasNext() bool
	Next() (*KeyModification, error)
	Close() error
}

// KV is one entry of a range query: Fabric's queryresult.KV.
type KV struct {
	Key   string
	Value []byte
}

// KeyModification is one committed write or delete of a key: Fabric's
// queryresult.KeyModification.
type KeyModification struct {
	TxID string
	// Value is the value written, nil for a delete.
	Value []byte
	// Timestamp is the writing transaction's timestamp.
	Timestamp time.Time
	IsDelete  bool
}

// Context is the first parameter of every transaction function: Fabric's
// contractapi.TransactionContextInterface. Package cid reads the creator's
// identity from its stub: cid.New(ctx.GetStub()).
type Context interface {
	GetStub() Stub
}

// NewContext returns the Context of stub, as the router passes it to a
// transaction function. Tests use it to call transaction functions
// directly.
func NewContext(stub Stub) Context { return txContext{stub} }

type txContext struct{ stub Stub }

func (c txContext) GetStub() Stub { return c.stub }
