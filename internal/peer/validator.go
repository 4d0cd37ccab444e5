package peer

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/policy"
	"github.com/chorusledger/chorus/internal/worldstate"
	"github.com/chorusledger/chorus/internal/zerocopy"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// lifecycleNamespace is the namespace of the _lifecycle system contract,
// where contract definitions live. Only the _lifecycle contract may write
// to it; its writes must satisfy the channel's LifecycleEndorsement policy.
const lifecycleNamespace = "_lifecycle"

// definitionKeyPrefix is the key prefix of committed definitions in the
// _lifecycle namespace ("definitions/<name>", see
// proto/chorus/lifecycle). A valid _lifecycle transaction writing such a
// key changes the definition for the rest of the block.
const definitionKeyPrefix = "definitions/"

// maxIgnoredInReason bounds the ignored endorsements a reason names, so
// that a transaction stuffed with bad endorsements does not store a huge
// reason in the ledger.
const maxIgnoredInReason = 4

// channelPolicyPrefix starts an endorsement policy that refers to a channel
// policy, such as "/Channel/Endorsement".
const channelPolicyPrefix = "/Channel/"

// ErrNotDefined is what a Definitions implementation returns (or wraps)
// for a contract that has no committed definition on the channel. An
// adapter over another package's "not found" error maps it to this value,
// or the validator is told how to recognise it with
// ValidatorOptions.IsNotDefined.
var ErrNotDefined = errors.New("peer: contract not defined")

// Definitions reads the committed contract definitions of a channel, as of
// the last committed block: it must not see the writes of the block being
// validated (Finish accounts for those itself). Finish calls it from one
// goroutine.
type Definitions interface {
	// Definition returns the committed definition of the contract name.
	// A contract without one gives an error matching ErrNotDefined (or
	// ValidatorOptions.IsNotDefined), or a nil definition. Any other error
	// is a storage failure: Finish stops and returns it.
	Definition(name string) (*lifecyclepb.ContractDefinition, error)
}

// ValidatorOptions tune a Validator. The zero value is ready to use.
type ValidatorOptions struct {
	// Workers bounds the goroutines Prepare uses to check a block's
	// transactions; zero or less means runtime.NumCPU().
	Workers int
	// IsNotDefined recognises the "no such definition" error of the
	// Definitions given to Finish; nil means errors.Is(err, ErrNotDefined).
	IsNotDefined func(error) bool
}

// Validator validates the blocks of one channel (DESIGN §6). Validation
// runs in two phases so that a committer can overlap the state-independent
// checks of block N+1 with the commit of block N:
//
//   - Prepare checks what does not depend on the world state, for every
//     transaction of a block in parallel: structure, channel, header type,
//     transaction id, creator signature, endorsement signatures.
//   - Finish runs in block order against the state committed up to the
//     previous block: duplicate transaction ids, endorsement policies and
//     MVCC/phantom reads. It collects the valid writes in a
//     worldstate.BlockUpdates for the commit.
//
// Every step is deterministic given the block, the bundle (its clock
// included), the committed state and the ledger's transaction ids, so that
// every peer records the same validation codes.
//
// A Validator is safe for concurrent use: Prepare of one block may run
// while Finish of the previous one does. It holds no per-block state; its
// only memory is a cache of parsed endorsement policies keyed by contract
// name and definition sequence, holding the latest definition of each
// contract.
type Validator struct {
	state        *worldstate.State
	workers      int
	isNotDefined func(error) bool

	mu       sync.Mutex
	policies map[string]cachedPolicy // contract name → its latest parsed policy
}

// cachedPolicy is the parsed signature policy of one definition.
type cachedPolicy struct {
	sequence uint64
	text     string
	pol      *policy.SignaturePolicy
	err      error // the parse error, if the text does not parse
}

// NewValidator returns the validator of the channel whose world state is
// state.
func NewValidator(state *worldstate.State, opts ValidatorOptions) (*Validator, error) {
	if state == nil {
		return nil, errors.New("peer: a validator needs the channel's world state")
	}
	v := &Validator{
		state:        state,
		workers:      opts.Workers,
		isNotDefined: opts.IsNotDefined,
		policies:     make(map[string]cachedPolicy),
	}
	if v.workers <= 0 {
		v.workers = runtime.NumCPU()
	}
	if v.isNotDefined == nil {
		v.isNotDefined = func(err error) bool { return errors.Is(err, ErrNotDefined) }
	}
	return v, nil
}

// Channel returns the channel the validator validates.
func (v *Validator) Channel() string { return v.state.Channel() }

// ValidationResult is the outcome of validating one block: what the
// committer writes into the block's metadata and the ledger's batch.
type ValidationResult struct {
	// Block is the block number.
	Block uint64
	// Codes holds one validation code per transaction, for the block's
	// transaction filter (ledger.SetTxFilter).
	Codes []peerpb.TxValidationCode
	// Reasons says why each invalid transaction is invalid; it is empty
	// for a VALID one (ledger.AppendOptions.Reasons).
	Reasons []string
	// TxIDs holds each transaction's id as its channel header states it,
	// "" when the envelope does not decode that far. For an invalid
	// transaction the id may be a forgery.
	TxIDs []string
	// Updates holds the writes of the valid transactions, to be written
	// with the block (it is a ledger.BatchWriter).
	Updates *worldstate.BlockUpdates
	// WritesHash is the writes hash of the block's commit hash, over the
	// valid endorser transactions (ledger.AppendOptions.WritesHash).
	WritesHash []byte
	// Config is the new channel configuration when the block is a valid
	// config block, nil otherwise. The committer builds the next Bundle
	// from it; the next block must be prepared with that Bundle.
	Config *configpb.ChannelConfig
	// Events holds the contract event of each valid transaction that set
	// one, in block order.
	Events []ValidatedEvent
}

// ValidatedEvent is the contract event of a valid transaction.
type ValidatedEvent struct {
	// TxNum is the transaction's position in the block.
	TxNum int
	// TxID is the transaction's id.
	TxID string
	// Event is the event as the contract set it.
	Event *peerpb.ChaincodeEvent
}

// Prepared is a block after the state-independent checks of Prepare,
// waiting for Finish. It belongs to one goroutine at a time.
type Prepared struct {
	block  *commonpb.Block
	number uint64
	bundle *channelconfig.Bundle
	txs    []preparedTx
	config *configpb.ChannelConfig
	err    error // a fault of the caller (no header, wrong bundle); Finish returns it
}

// Block returns the block that was prepared.
func (p *Prepared) Block() *commonpb.Block { return p.block }

// Bundle returns the channel configuration the block was prepared under,
// which Finish uses too.
func (p *Prepared) Bundle() *channelconfig.Bundle { return p.bundle }

// Config returns the configuration the block carries when it is a valid
// config block, nil otherwise. A committer that overlaps Prepare of the
// next block with the commit of this one must not do so when Config is not
// nil: the next block is validated under the new configuration.
func (p *Prepared) Config() *configpb.ChannelConfig { return p.config }

// preparedTx is what Prepare learned of one transaction.
type preparedTx struct {
	code   peerpb.TxValidationCode // VALID: passed every check of Prepare
	reason string
	txID   string
	// authentic is set once the transaction id matched the creator and
	// nonce and the creator's signature verified: only then does the id
	// count against later transactions of the block with the same id, so
	// that a forged envelope cannot make an honest one a duplicate.
	authentic bool
	isConfig  bool
	timestamp *timestamppb.Timestamp
	contract  string
	nsRWSets  []envelope.NsRWSet
	endorsers []policy.Signer
	// ignored says which endorsements were left out of the policy
	// evaluation, and why.
	ignored []string
	event   *peerpb.ChaincodeEvent
	config  *configpb.ChannelConfig
}

func (t *preparedTx) fail(code peerpb.TxValidationCode, format string, args ...any) {
	t.code, t.reason = code, fmt.Sprintf(format, args...)
}

// Validate is Prepare followed by Finish, for callers that do not overlap
// blocks.
func (v *Validator) Validate(block *commonpb.Block, bundle *channelconfig.Bundle, state kv.Reader, defs Definitions, txSeen func(txID string) (bool, error)) (*ValidationResult, error) {
	return v.Finish(v.Prepare(block, bundle), state, defs, txSeen)
}

// Prepare runs the checks that do not depend on the world state on every
// transaction of block, in parallel, under the channel configuration
// bundle (its MSPs, and its clock for certificate validity). For each
// transaction, in this order, the first failure decides its code:
//
//   - an empty envelope: NIL_ENVELOPE; one that does not decode: the code
//     envelope.CodeOf gives (BAD_PAYLOAD, BAD_COMMON_HEADER, ...);
//   - a channel other than the validator's: TARGET_CHAIN_NOT_FOUND;
//   - a header type other than ENDORSER_TRANSACTION and CONFIG:
//     UNKNOWN_TX_TYPE. A CONFIG transaction must be alone in its block and
//     carry a valid configuration of this channel whose sequence follows
//     the bundle's (0 in block 0), else INVALID_CONFIG_TRANSACTION; its
//     signature is not checked, the orderer's block signature covers it;
//   - a transaction id other than hex(SHA-256(nonce ‖ creator)):
//     BAD_PROPOSAL_TXID (BAD_COMMON_HEADER without nonce or creator);
//   - a creator that is not a valid identity of the channel now (unknown
//     MSP or CA, expired, revoked) or whose signature over the payload
//     does not verify: BAD_CREATOR_SIGNATURE;
//   - a transaction that does not decode: envelope.CodeOf's code;
//   - an action header other than the payload's signature header, no
//     contract named, or contract names that disagree between the channel
//     header extension, the invocation and the endorsed action:
//     INVALID_ENDORSER_TRANSACTION (BAD_HEADER_EXTENSION when the
//     extension does not decode);
//   - an invalid namespace in the read/write set: BAD_RWSET;
//   - hashed private data collections: INVALID_OTHER_REASON;
//   - a contract response status of 400 or more: INVALID_ENDORSER_TRANSACTION.
//
// Then each endorsement is checked: the endorser must be a valid identity
// of the channel and its signature over the proposal response payload
// followed by its serialized identity must verify. An endorsement that
// fails is left out of the policy evaluation (and named in the reason if
// the policy then fails); the same endorser counts once. Signatures are
// verified through the signature cache of the bundle's MSPs.
//
// Prepare never fails: faults of the caller (a block without header, a
// bundle of another channel) are kept and returned by Finish.
func (v *Validator) Prepare(block *commonpb.Block, bundle *channelconfig.Bundle) *Prepared {
	p := &Prepared{block: block, bundle: bundle}
	switch {
	case block.GetHeader() == nil:
		p.err = errors.New("peer: validate: the block has no header")
		return p
	case bundle == nil:
		p.err = fmt.Errorf("peer: validate block %d: no channel configuration given", block.GetHeader().GetNumber())
		return p
	case bundle.ChannelID() != v.Channel():
		p.err = fmt.Errorf("peer: validate block %d: configuration of channel %q given to the validator of channel %q",
			block.GetHeader().GetNumber(), bundle.ChannelID(), v.Channel())
		return p
	}
	p.number = block.GetHeader().GetNumber()
	data := block.GetData().GetData()
	p.txs = make([]preparedTx, len(data))

	workers := min(v.workers, len(data))
	if workers <= 1 {
		for i := range data {
			v.prepareTx(p, i)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(data) {
						return
					}
					v.prepareTx(p, i)
				}
			})
		}
		wg.Wait()
	}
	if len(p.txs) == 1 && p.txs[0].isConfig && p.txs[0].code == peerpb.TxValidationCode_VALID {
		p.config = p.txs[0].config
	}
	return p
}

// prepareTx checks transaction i of p's block and fills p.txs[i]. It only
// writes p.txs[i], so transactions can be prepared in parallel.
func (v *Validator) prepareTx(p *Prepared, i int) {
	t := &p.txs[i]
	data := p.block.GetData().GetData()
	env, err := envelope.ParseEnvelope(data[i])
	if err != nil {
		t.fail(envelope.CodeOf(err), "%s", plain(err))
		return
	}
	t.txID = env.TxID()
	t.timestamp = env.ChannelHeader.GetTimestamp()
	if ch := env.ChannelHeader.GetChannelId(); ch != v.Channel() {
		t.fail(peerpb.TxValidationCode_TARGET_CHAIN_NOT_FOUND, "the transaction is for channel %q, not %q", ch, v.Channel())
		return
	}
	switch typ := env.Type(); typ {
	case commonpb.HeaderType_ENDORSER_TRANSACTION:
		v.prepareEndorserTx(p.bundle, t, env)
	case commonpb.HeaderType_CONFIG:
		t.isConfig = true
		v.prepareConfigTx(p, t, env, len(data))
	default:
		t.fail(peerpb.TxValidationCode_UNKNOWN_TX_TYPE, "header type %s is not accepted in a block (want ENDORSER_TRANSACTION or CONFIG)", headerTypeName(typ))
	}
}

// prepareConfigTx checks a CONFIG transaction.
func (v *Validator) prepareConfigTx(p *Prepared, t *preparedTx, env *envelope.Envelope, n int) {
	if n != 1 {
		t.fail(peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "a config transaction must be the only transaction of its block; block %d holds %d", p.number, n)
		return
	}
	cfg := &configpb.ChannelConfig{}
	if err := proto.Unmarshal(env.Payload.GetData(), cfg); err != nil {
		t.fail(peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "decode channel configuration: %v", err)
		return
	}
	if err := channelconfig.Validate(cfg); err != nil {
		t.fail(peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "%s", plain(err))
		return
	}
	if cfg.GetChannelId() != v.Channel() {
		t.fail(peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "the configuration is of channel %q, not %q", cfg.GetChannelId(), v.Channel())
		return
	}
	want := p.bundle.Sequence() + 1
	if p.number == 0 {
		want = 0
	}
	if cfg.GetSequence() != want {
		t.fail(peerpb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "configuration sequence %d does not follow the channel's sequence %d", cfg.GetSequence(), p.bundle.Sequence())
		return
	}
	t.config = cfg
}

// prepareEndorserTx checks an ENDORSER_TRANSACTION.
func (v *Validator) prepareEndorserTx(bundle *channelconfig.Bundle, t *preparedTx, env *envelope.Envelope) {
	if err := envelope.CheckTxID(env.TxID(), env.SignatureHeader); err != nil {
		t.fail(envelope.CodeOf(err), "%s", plain(err))
		return
	}
	mgr := bundle.Manager()
	creator, err := mgr.DeserializeIdentity(env.SignatureHeader.GetCreator())
	if err != nil {
		t.fail(peerpb.TxValidationCode_BAD_CREATOR_SIGNATURE, "creator: %s", plain(err))
		return
	}
	if err := creator.Verify(env.PayloadBytes, env.Signature); err != nil {
		t.fail(peerpb.TxValidationCode_BAD_CREATOR_SIGNATURE, "signature of the creator %s over the payload: %s", creator, plain(err))
		return
	}
	t.authentic = true

	tx, err := envelope.ParseEndorserTransaction(env.Payload.GetData())
	if err != nil {
		t.fail(envelope.CodeOf(err), "%s", plain(err))
		return
	}
	if !bytes.Equal(tx.SignatureHeaderBytes, env.Payload.GetHeader().GetSignatureHeader()) {
		t.fail(peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "the transaction action's header is not the payload's signature header")
		return
	}
	contract := tx.ContractName()
	if contract == "" {
		t.fail(peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "the transaction names no contract")
		return
	}
	if ext := env.ChannelHeader.GetExtension(); len(ext) > 0 {
		he := &peerpb.ChaincodeHeaderExtension{}
		if err := zerocopy.Unmarshal(ext, he); err != nil {
			t.fail(peerpb.TxValidationCode_BAD_HEADER_EXTENSION, "decode chaincode header extension: %v", err)
			return
		}
		if n := he.GetChaincodeId().GetName(); n != "" && n != contract {
			t.fail(peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "the channel header names contract %q, the invocation %q", n, contract)
			return
		}
	}
	if n := tx.Action.GetChaincodeId().GetName(); n != "" && n != contract {
		t.fail(peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "the endorsed action is of contract %q, the invocation of %q", n, contract)
		return
	}
	for _, ns := range tx.NsRWSets {
		if err := worldstate.ValidateNamespace(ns.Namespace); err != nil {
			t.fail(peerpb.TxValidationCode_BAD_RWSET, "%s", plain(err))
			return
		}
	}
	for _, ns := range tx.RWSet.GetNsRwset() {
		if len(ns.GetCollectionHashedRwset()) > 0 {
			t.fail(peerpb.TxValidationCode_INVALID_OTHER_REASON, "private data is not supported (namespace %q holds private data collections)", ns.GetNamespace())
			return
		}
	}
	if resp := tx.Action.GetResponse(); resp.GetStatus() >= 400 {
		t.fail(peerpb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "the contract responded with status %d (%q); a failed simulation never commits", resp.GetStatus(), resp.GetMessage())
		return
	}

	// Endorsements: keep the endorsers whose signatures verify, each once.
	// What failed is not checked again: an identity refused once is
	// refused for every copy, and a signature for the same endorser and
	// bytes fails again (failures are not cached by the identity package).
	// The keys of both sets share the block's bytes, which nothing
	// changes while it is validated, and do not outlive this call.
	seen := make(map[string]struct{}, len(tx.Endorsements)) // verified, or an identity refused
	var failed map[[2]string]struct{}                       // (endorser, signature) that did not verify
	signed := signedBytesPool.Get()
	defer signedBytesPool.Put(signed)
	for j, e := range tx.Endorsements {
		key := zerocopy.String(e.GetEndorser())
		if _, dup := seen[key]; dup {
			continue
		}
		sigKey := [2]string{key, zerocopy.String(e.GetSignature())}
		if _, dup := failed[sigKey]; dup {
			continue
		}
		id, err := mgr.DeserializeIdentity(e.GetEndorser())
		if err != nil {
			seen[key] = struct{}{}
			t.ignored = append(t.ignored, fmt.Sprintf("endorsement %d ignored: %s", j, plain(err)))
			continue
		}
		*signed = envelope.AppendEndorsementSignedBytes((*signed)[:0], tx.ResponsePayloadBytes, e.GetEndorser())
		if err := id.Verify(*signed, e.GetSignature()); err != nil {
			if failed == nil {
				failed = make(map[[2]string]struct{})
			}
			failed[sigKey] = struct{}{}
			t.ignored = append(t.ignored, fmt.Sprintf("endorsement %d by %s ignored: %s", j, id, plain(err)))
			continue
		}
		seen[key] = struct{}{}
		t.endorsers = append(t.endorsers, newEndorser(id))
	}
	t.contract = contract
	t.nsRWSets = tx.NsRWSets
	t.event = tx.Event
}

// signedBytesPool holds the buffers in which the validator puts what an
// endorser signed (a few KB a transaction) to verify it; Verify keeps
// nothing of its message. A buffer grown past 64 KiB by an unusually large
// transaction is not kept.
var signedBytesPool = envelope.NewBufferPool(64 << 10)

// endorser adapts a verified endorser identity to policy.Signer. Its ID is
// the SHA-256 of the certificate's public key, so that the same key counts
// once whichever certificate carries it, as channelconfig counts signers.
type endorser struct {
	id  *identity.Identity
	key string
}

func newEndorser(id *identity.Identity) endorser {
	sum := sha256.Sum256(id.Certificate().RawSubjectPublicKeyInfo)
	return endorser{id: id, key: string(sum[:])}
}

func (e endorser) ID() string                   { return e.key }
func (e endorser) MSPID() string                { return e.id.MSPID() }
func (e endorser) HasRole(r identity.Role) bool { return e.id.HasRole(r) }

// Finish completes the validation of a prepared block, in block order,
// against state (the world state committed up to the previous block, a
// kv.Snapshot or the database while no commit runs), the committed
// contract definitions defs, and txSeen, which reports whether a
// transaction id is already in the ledger. For each transaction that
// passed Prepare:
//
//   - an id that txSeen reports, or that an earlier transaction of the
//     block carries (valid or not, once its id was shown authentic by the
//     creator's signature): DUPLICATE_TXID;
//   - a write to the _lifecycle namespace by any contract but _lifecycle:
//     ILLEGAL_WRITESET;
//   - the invoked contract, and every other namespace the transaction
//     writes, must have a committed definition (INVALID_CHAINCODE
//     otherwise) whose endorsement policy the verified endorsers satisfy
//     (ENDORSEMENT_POLICY_FAILURE otherwise, naming the missing
//     principals). _lifecycle uses the channel's LifecycleEndorsement
//     policy. A definition's policy is a signature expression, or
//     "/Channel/<Name>" for a channel policy; an empty one means
//     /Channel/Endorsement, as in Fabric;
//   - a contract whose definition an earlier valid transaction of the
//     block changed: MVCC_READ_CONFLICT (it was endorsed under the old
//     definition);
//   - reads no longer current, or range reads that would now return other
//     keys, against state plus the writes of the block's earlier valid
//     transactions: MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT with the
//     reason the world state gives (BAD_RWSET or INVALID_WRITESET for read/
//     write sets it cannot apply).
//
// The writes of each valid transaction are added to the result's Updates.
// An error (a storage failure of state, defs or txSeen, or a fault the
// caller made in Prepare) means the block could not be validated: nothing
// is recorded, and the caller must not commit it. txSeen may be nil when
// the ledger holds no transaction (a test, a fresh channel), defs nil when
// no contract is defined.
func (v *Validator) Finish(p *Prepared, state kv.Reader, defs Definitions, txSeen func(txID string) (bool, error)) (*ValidationResult, error) {
	if p.err != nil {
		return nil, p.err
	}
	n := len(p.txs)
	res := &ValidationResult{
		Block:   p.number,
		Codes:   make([]peerpb.TxValidationCode, n),
		Reasons: make([]string, n),
		TxIDs:   make([]string, n),
		Updates: v.state.NewBlockUpdates(p.number),
		Config:  p.config,
	}
	f := &finisher{
		v:         v,
		p:         p,
		state:     state,
		defs:      defs,
		txSeen:    txSeen,
		res:       res,
		firstAt:   make(map[string]int, n),
		resolved:  make(map[string]nsPolicy),
		redefined: make(map[string]int),
	}
	var writes ledger.WritesHash
	for i := range p.txs {
		t := &p.txs[i]
		code, reason := t.code, t.reason
		if code == peerpb.TxValidationCode_VALID && !t.isConfig {
			var err error
			code, reason, err = f.endorserTx(i, t)
			if err != nil {
				return nil, fmt.Errorf("peer: validate block %d transaction %d: %w", p.number, i, err)
			}
		}
		if t.authentic {
			if _, ok := f.firstAt[t.txID]; !ok {
				f.firstAt[t.txID] = i
			}
		}
		res.Codes[i], res.TxIDs[i] = code, t.txID
		switch {
		case code != peerpb.TxValidationCode_VALID:
			res.Reasons[i] = reason
		case !t.isConfig:
			writes.Add(t.nsRWSets)
		}
	}
	res.WritesHash = writes.Sum()
	return res, nil
}

// finisher is the state of one Finish call.
type finisher struct {
	v      *Validator
	p      *Prepared
	state  kv.Reader
	defs   Definitions
	txSeen func(string) (bool, error)
	res    *ValidationResult

	// firstAt maps an authentic transaction id to its first position in
	// the block.
	firstAt map[string]int
	// resolved memoises each namespace's policy for this block.
	resolved map[string]nsPolicy
	// redefined maps a contract to the valid transaction of this block
	// that changed its definition.
	redefined map[string]int
}

// nsPolicy is the endorsement policy of a namespace, or why there is none.
type nsPolicy struct {
	pol policy.Policy
	ref string // "/Channel/<Name>" for a channel policy, "" for a signature policy
	// code and reason are set when the namespace has no usable policy.
	code   peerpb.TxValidationCode
	reason string
}

// endorserTx runs the checks of Finish on a transaction that passed
// Prepare and, if it is valid, adds its writes to the block's updates.
func (f *finisher) endorserTx(i int, t *preparedTx) (peerpb.TxValidationCode, string, error) {
	if j, ok := f.firstAt[t.txID]; ok {
		return peerpb.TxValidationCode_DUPLICATE_TXID, fmt.Sprintf("transaction id %s is also the id of transaction %d of this block", t.txID, j), nil
	}
	if f.txSeen != nil {
		seen, err := f.txSeen(t.txID)
		if err != nil {
			return 0, "", fmt.Errorf("looking up transaction id %s in the ledger: %w", t.txID, err)
		}
		if seen {
			return peerpb.TxValidationCode_DUPLICATE_TXID, fmt.Sprintf("transaction id %s is already in the ledger", t.txID), nil
		}
	}

	// The namespaces whose policy must be met: the invoked contract's,
	// then every other namespace written, in read/write set order.
	nss := []string{t.contract}
	for _, ns := range t.nsRWSets {
		if len(ns.KV.GetWrites()) == 0 || ns.Namespace == t.contract {
			continue
		}
		if ns.Namespace == lifecycleNamespace {
			return peerpb.TxValidationCode_ILLEGAL_WRITESET, fmt.Sprintf("contract %s may not write to the %s namespace", t.contract, lifecycleNamespace), nil
		}
		nss = append(nss, ns.Namespace)
	}
	for _, ns := range nss {
		if j, ok := f.redefined[ns]; ok {
			return peerpb.TxValidationCode_MVCC_READ_CONFLICT, fmt.Sprintf("the definition of contract %s was changed by transaction %d of this block", ns, j), nil
		}
	}
	for _, ns := range nss {
		np, err := f.policy(ns)
		if err != nil {
			return 0, "", err
		}
		if np.pol == nil {
			return np.code, np.reason, nil
		}
		if err := np.pol.Evaluate(t.endorsers); err != nil {
			return peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, policyFailure(ns, np.ref, err, t.ignored), nil
		}
	}

	code, reason, err := f.v.state.CheckReads(f.state, f.res.Updates, t.nsRWSets)
	if err != nil {
		return 0, "", err
	}
	if code != peerpb.TxValidationCode_VALID {
		return code, reason, nil
	}
	if err := f.res.Updates.Add(uint64(i), t.txID, t.timestamp, t.nsRWSets); err != nil {
		return 0, "", err
	}
	if t.contract == lifecycleNamespace {
		for _, ns := range t.nsRWSets {
			if ns.Namespace != lifecycleNamespace {
				continue
			}
			for _, w := range ns.KV.GetWrites() {
				if name, ok := strings.CutPrefix(w.GetKey(), definitionKeyPrefix); ok {
					f.redefined[name] = i
				}
			}
		}
	}
	if t.event != nil {
		f.res.Events = append(f.res.Events, ValidatedEvent{TxNum: i, TxID: t.txID, Event: t.event})
	}
	return peerpb.TxValidationCode_VALID, "", nil
}

// policyFailure is the reason recorded for an unmet endorsement policy:
//
//	endorsement policy of assets (AND('Org1MSP.peer','Org2MSP.peer')) not satisfied: missing Org2MSP.peer
//
// or, for a channel policy,
//
//	endorsement policy of _lifecycle (/Channel/LifecycleEndorsement = MAJORITY Endorsement) not satisfied: ...
//
// followed by the endorsements that were ignored, if any (at most
// maxIgnoredInReason of them, then their count).
func policyFailure(ns, ref string, err error, ignored []string) string {
	var b strings.Builder
	var nse *policy.NotSatisfiedError
	if errors.As(err, &nse) {
		label := nse.Policy
		if ref != "" {
			label = ref + " = " + nse.Policy
		}
		fmt.Fprintf(&b, "endorsement policy of %s (%s) not satisfied: %s", ns, label, nse.Detail)
	} else {
		label := ref
		if label == "" {
			label = "signature policy"
		}
		fmt.Fprintf(&b, "endorsement policy of %s (%s) not satisfied: %s", ns, label, plain(err))
	}
	for i, s := range ignored {
		if i == maxIgnoredInReason {
			fmt.Fprintf(&b, "; %d more endorsements ignored", len(ignored)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(s)
	}
	return b.String()
}

// policy returns the endorsement policy of namespace ns for this block.
func (f *finisher) policy(ns string) (nsPolicy, error) {
	if np, ok := f.resolved[ns]; ok {
		return np, nil
	}
	np, err := f.resolve(ns)
	if err != nil {
		return nsPolicy{}, err
	}
	f.resolved[ns] = np
	return np, nil
}

func (f *finisher) resolve(ns string) (nsPolicy, error) {
	channel := f.v.Channel()
	if ns == lifecycleNamespace {
		return f.channelPolicy(ns, channelPolicyPrefix+channelconfig.PolicyLifecycleEndorsement), nil
	}
	notDefined := nsPolicy{
		code:   peerpb.TxValidationCode_INVALID_CHAINCODE,
		reason: fmt.Sprintf("contract %s is not defined on channel %s", ns, channel),
	}
	if f.defs == nil {
		return notDefined, nil
	}
	def, err := f.defs.Definition(ns)
	switch {
	case err != nil && f.v.isNotDefined(err):
		return notDefined, nil
	case err != nil:
		return nsPolicy{}, fmt.Errorf("reading the definition of contract %s: %w", ns, err)
	case def == nil:
		return notDefined, nil
	}
	text := def.GetEndorsementPolicy()
	if text == "" {
		text = channelPolicyPrefix + channelconfig.PolicyEndorsement
	}
	if strings.HasPrefix(text, channelPolicyPrefix) {
		return f.channelPolicy(ns, text), nil
	}
	pol, err := f.v.signaturePolicy(ns, def.GetSequence(), text)
	if err != nil {
		return nsPolicy{
			code:   peerpb.TxValidationCode_INVALID_CHAINCODE,
			reason: fmt.Sprintf("contract %s: endorsement policy %q of definition %d: %s", ns, text, def.GetSequence(), plain(err)),
		}, nil
	}
	return nsPolicy{pol: pol}, nil
}

// channelPolicy resolves a reference "/Channel/<Name>" with the block's
// bundle.
func (f *finisher) channelPolicy(ns, ref string) nsPolicy {
	name := strings.TrimPrefix(ref, channelPolicyPrefix)
	pol, ok := f.p.bundle.Policy(name)
	if !ok {
		return nsPolicy{
			code:   peerpb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE,
			reason: fmt.Sprintf("endorsement policy of %s is %s, which channel %s does not define", ns, ref, f.v.Channel()),
		}
	}
	return nsPolicy{pol: pol, ref: ref}
}

// signaturePolicy returns the parsed signature policy of the definition
// (name, sequence), parsing text only when the cache holds another
// sequence or text for name. Only the latest definition of each contract is
// kept, so the cache is bounded by the number of contracts.
func (v *Validator) signaturePolicy(name string, sequence uint64, text string) (*policy.SignaturePolicy, error) {
	v.mu.Lock()
	c, ok := v.policies[name]
	v.mu.Unlock()
	if ok && c.sequence == sequence && c.text == text {
		return c.pol, c.err
	}
	pol, err := policy.ParseSignaturePolicy(text)
	v.mu.Lock()
	// The name may share a block's bytes: keep a copy.
	v.policies[strings.Clone(name)] = cachedPolicy{sequence: sequence, text: text, pol: pol, err: err}
	v.mu.Unlock()
	return pol, err
}

// plain returns err's message without the package prefix of the packages
// whose errors become reasons, which are shown to users beside a
// validation code.
func plain(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"envelope: ", "identity: ", "policy: ", "channelconfig: ", "worldstate: "} {
		if s, ok := strings.CutPrefix(msg, prefix); ok {
			return s
		}
	}
	return msg
}

func headerTypeName(t commonpb.HeaderType) string {
	if n, ok := commonpb.HeaderType_name[int32(t)]; ok {
		return n
	}
	return fmt.Sprintf("%d", int32(t))
}
