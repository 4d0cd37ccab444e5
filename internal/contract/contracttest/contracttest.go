// Package contracttest runs contracts as a peer would, against a real
// world state in memory: a kv database on a crashable in-memory
// filesystem, one channel, a registry holding the _lifecycle contract, and
// members of two organizations. Transactions are simulated on a snapshot
// with contract.Execute and committed in blocks through worldstate's MVCC
// validation, so tests of contracts see exactly what endorsers and
// committers do. Transaction ids and timestamps are deterministic.
//
// A Channel belongs to one test goroutine.
package contracttest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/worldstate"
	rwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// ChannelID is the channel of every Channel.
const ChannelID = "mychannel"

// epochUnix is the timestamp of the first transaction, 2025-01-01 UTC;
// each later one is a second later.
const epochUnix = 1735689600

// Channel is one channel's world state with the contracts of one peer.
type Channel struct {
	DB       *kv.DB
	State    *worldstate.State
	Registry *contract.Registry
	// Packages are the contracts installed for the test, by package hash.
	Packages Packages

	// Members of Org1MSP and Org2MSP, one per role.
	Org1Admin, Org1Client, Org1Peer, Org2Admin, Org2Client *identity.Identity

	t     testing.TB
	block uint64 // the last committed block
	txs   uint64 // transactions made so far
}

// Tx is a simulated transaction.
type Tx struct {
	Invocation contract.Invocation
	Result     *contract.Result
	RWSet      *rwsetpb.TxReadWriteSet
	RWSetBytes []byte
}

// KV returns the key-value read/write set of namespace ns in tx, or nil
// when tx touched no key of ns.
func (tx *Tx) KV(t testing.TB, ns string) *kvrwsetpb.KVRWSet {
	t.Helper()
	_, sets, err := envelope.ParseRWSet(tx.RWSetBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if s.Namespace == ns {
			return s.KV
		}
	}
	return nil
}

// New returns an empty channel with _lifecycle registered. The database is
// closed when the test ends.
func New(t testing.TB) *Channel {
	t.Helper()
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	state, err := worldstate.New(ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := Packages{}
	reg := contract.NewRegistry(pkgs)
	if err := reg.Register(contract.LifecycleName, contract.Lifecycle{}); err != nil {
		t.Fatal(err)
	}
	c := &Channel{DB: db, State: state, Registry: reg, Packages: pkgs, t: t}
	org1, err := newOrg("Org1MSP", "org1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	org2, err := newOrg("Org2MSP", "org2.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		dst  **identity.Identity
		org  *org
		name string
		role identity.Role
	}{
		{&c.Org1Admin, org1, "Admin", identity.RoleAdmin},
		{&c.Org1Client, org1, "User1", identity.RoleClient},
		{&c.Org1Peer, org1, "peer0", identity.RolePeer},
		{&c.Org2Admin, org2, "Admin", identity.RoleAdmin},
		{&c.Org2Client, org2, "User1", identity.RoleClient},
	} {
		if *m.dst, err = m.org.member(m.name, m.role); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

type org struct {
	domain string
	ca     *identity.CA
	msp    *identity.MSP
}

func newOrg(mspID, domain string) (*org, error) {
	ca, err := identity.NewCA("ca."+domain, mspID, 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	msp, err := identity.NewMSP(identity.MSPConfig{ID: mspID, RootCerts: [][]byte{ca.CertificatePEM()}})
	if err != nil {
		return nil, err
	}
	return &org{domain: domain, ca: ca, msp: msp}, nil
}

func (o *org) member(name string, role identity.Role) (*identity.Identity, error) {
	certPEM, _, err := o.ca.Issue(name+"@"+o.domain, role, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	ser, err := identity.Serialize(o.ca.MSPID(), certPEM)
	if err != nil {
		return nil, err
	}
	return o.msp.DeserializeIdentity(ser)
}

// Invocation returns an invocation of the contract name by creator with
// args (args[0] the function), with the next transaction id ("tx1",
// "tx2", ...) and timestamp. Its Definitions is nil: Simulate fills it.
func (c *Channel) Invocation(creator *identity.Identity, name string, args ...string) contract.Invocation {
	c.txs++
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	return contract.Invocation{
		ChannelID: ChannelID,
		Contract:  name,
		Args:      bargs,
		TxID:      fmt.Sprintf("tx%d", c.txs),
		Timestamp: time.Unix(epochUnix+int64(c.txs)-1, 0).UTC(),
		Creator:   creator,
		Lifecycle: &contract.LifecycleContext{
			Organizations:  []string{"Org1MSP", "Org2MSP"},
			ApprovalPolicy: Majority([]string{"Org1MSP", "Org2MSP"}),
		},
	}
}

// Majority is Fabric's default lifecycle rule: more than half of the
// organizations must approve. The error names those that did not.
func Majority(orgs []string) func(approved []string) error {
	return func(approved []string) error {
		if need := len(orgs)/2 + 1; len(approved) < need {
			return fmt.Errorf("MAJORITY of %d organizations needs %d approvals, have %d", len(orgs), need, len(approved))
		}
		return nil
	}
}

// Packages holds the contracts a test installs, as a peer holds installed
// packages: by package hash. It stands in for installed WebAssembly
// packages so that the contract package's own tests can run Go contracts.
type Packages map[string]contract.Contract

// Contract returns the contract installed under hash.
func (p Packages) Contract(hash []byte) (contract.Contract, error) {
	c, ok := p[string(hash)]
	if !ok {
		return nil, fmt.Errorf("%w: package %x", contract.ErrNotInstalled, hash)
	}
	return c, nil
}

// PackageHash is the hash a test package of a contract name gets.
func PackageHash(name string) []byte {
	h := sha256.Sum256([]byte("test package " + name))
	return h[:]
}

// Install installs c as the package of the contract name; Define then
// names that package.
func (c *Channel) Install(name string, ct contract.Contract) {
	c.Packages[string(PackageHash(name))] = ct
}

// Simulate executes inv on a snapshot of the committed state, as an
// endorser does, and returns the transaction with its read/write set.
// When inv.Definitions is nil, definitions are read through the
// simulator (contract.SimulatorDefinitions). The error is Execute's.
func (c *Channel) Simulate(inv contract.Invocation) (*Tx, error) {
	c.t.Helper()
	snap := c.DB.NewSnapshot()
	defer snap.Close()
	sim := c.State.NewSimulator(snap)
	defer sim.Close()
	run := inv
	if run.Definitions == nil {
		run.Definitions = contract.SimulatorDefinitions{Simulator: sim}
	}
	res, err := contract.Execute(c.Registry, sim, run)
	if err != nil {
		return nil, err
	}
	rws, b, err := sim.Results()
	if err != nil {
		c.t.Fatalf("simulation results: %v", err)
	}
	return &Tx{Invocation: inv, Result: res, RWSet: rws, RWSetBytes: b}, nil
}

// Invoke simulates an invocation of the contract name by creator with args.
func (c *Channel) Invoke(creator *identity.Identity, name string, args ...string) (*Tx, error) {
	c.t.Helper()
	return c.Simulate(c.Invocation(creator, name, args...))
}

// Commit validates txs as one block, in order, against the committed
// state, commits the writes of the valid ones, and returns each one's
// validation code. It commits whatever it is given, error responses
// included: choosing what to submit is the caller's business.
func (c *Channel) Commit(txs ...*Tx) []peerpb.TxValidationCode {
	c.t.Helper()
	c.block++
	u := c.State.NewBlockUpdates(c.block)
	codes := make([]peerpb.TxValidationCode, len(txs))
	for i, tx := range txs {
		_, nsRWSets, err := envelope.ParseRWSet(tx.RWSetBytes)
		if err != nil {
			c.t.Fatalf("block %d tx %d: %v", c.block, i, err)
		}
		code, _, err := c.State.CheckReads(c.DB, u, nsRWSets)
		if err != nil {
			c.t.Fatalf("block %d tx %d: %v", c.block, i, err)
		}
		codes[i] = code
		if code != peerpb.TxValidationCode_VALID {
			continue
		}
		ts := timestamppb.New(tx.Invocation.Timestamp)
		if err := u.Add(uint64(i), tx.Invocation.TxID, ts, nsRWSets); err != nil {
			c.t.Fatalf("block %d tx %d: %v", c.block, i, err)
		}
	}
	b := c.DB.NewBatch()
	defer b.Close()
	if err := u.WriteTo(b); err != nil {
		c.t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		c.t.Fatal(err)
	}
	return codes
}

// Submit simulates an invocation and, when its Response is not an error,
// commits it in a block of its own, failing the test unless it is valid.
// It fails the test if Execute fails; it returns the Result.
func (c *Channel) Submit(creator *identity.Identity, name string, args ...string) *contract.Result {
	c.t.Helper()
	tx, err := c.Invoke(creator, name, args...)
	if err != nil {
		c.t.Fatalf("%s %q: %v", name, args, err)
	}
	if tx.Result.IsError() {
		return tx.Result
	}
	if codes := c.Commit(tx); codes[0] != peerpb.TxValidationCode_VALID {
		c.t.Fatalf("%s %q: %v", name, args, codes[0])
	}
	return tx.Result
}

// Definitions reads the committed definitions.
func (c *Channel) Definitions() contract.StateDefinitions {
	return contract.StateDefinitions{State: c.State, Reader: c.DB}
}

// Define commits, as Org1's admin through _lifecycle, the next definition
// of the contract name (version "1.0") with the given endorsement policy
// ("" for the channel's default).
func (c *Channel) Define(name, endorsementPolicy string) {
	c.t.Helper()
	var seq uint64
	def, err := c.Definitions().Definition(name)
	switch {
	case err == nil:
		seq = def.GetSequence()
	case !errors.Is(err, contract.ErrNotDefined):
		c.t.Fatal(err)
	}
	arg, err := json.Marshal(contract.DefinitionJSON{
		Name: name, Version: "1.0", Sequence: seq + 1, EndorsementPolicy: endorsementPolicy,
		PackageHash: hex.EncodeToString(PackageHash(name)),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, admin := range []*identity.Identity{c.Org1Admin, c.Org2Admin} {
		if res := c.Submit(admin, contract.LifecycleName, "ApproveForMyOrg", string(arg)); res.IsError() {
			c.t.Fatalf("approving %s for %s: %d %s", name, admin.MSPID(), res.Status, res.Message)
		}
	}
	res := c.Submit(c.Org1Admin, contract.LifecycleName, "CommitDefinition", string(arg))
	if res.IsError() {
		c.t.Fatalf("defining %s: %d %s", name, res.Status, res.Message)
	}
}
