package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

var (
	minter = contracttest.NewIdentity("Org1MSP", "minter@org1.example.com")
	alice  = contracttest.NewIdentity("Org1MSP", "alice@org1.example.com")
	bob    = contracttest.NewIdentity("Org2MSP", "bob@org2.example.com")
)

const notInitialized = "Contract options need to be set before calling any function, call Initialize() to initialize contract"

type harness struct {
	t *testing.T
	l *contracttest.Ledger
}

func newHarness(t *testing.T, initialize bool) *harness {
	h := &harness{t: t, l: contracttest.NewLedger()}
	h.l.Deploy("token", contract.Registered())
	if initialize {
		h.ok(minter, "true", "Initialize", "Chorus Coin", "CHC", "2")
	}
	return h
}

func (h *harness) ok(who contracttest.Identity, payload string, args ...string) *contracttest.Result {
	h.t.Helper()
	r := h.l.Submit(who, "token", args...)
	if r.IsError() || r.Err != nil {
		h.t.Fatalf("%q: %v (%v)", args, r, r.Err)
	}
	if payload != "*" && string(r.Payload) != payload {
		h.t.Errorf("%q: payload %q, want %q", args, r.Payload, payload)
	}
	return r
}

func (h *harness) fails(who contracttest.Identity, msg string, args ...string) {
	h.t.Helper()
	r := h.l.Submit(who, "token", args...)
	if r.Status != 500 || r.Message != msg || r.Event != nil {
		h.t.Errorf("%q: %v, want 500 %q", args, r, msg)
	}
}

func (h *harness) balance(who contracttest.Identity) int64 {
	h.t.Helper()
	r := h.l.Evaluate(who, "token", "BalanceOf", who.ClientID())
	if r.IsError() {
		return -1
	}
	n, err := strconv.ParseInt(string(r.Payload), 10, 64)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func wantEvent(t *testing.T, r *contracttest.Result, name string, from, to string, value int64) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"from": from, "to": to, "value": value})
	if r.Event == nil || r.Event.Name != name || string(r.Event.Payload) != string(b) {
		t.Errorf("event %v, want %s %s", r.Event, name, b)
	}
}

func TestInitialize(t *testing.T) {
	h := newHarness(t, false)
	for _, fn := range [][]string{{"Name"}, {"Mint", "1"}, {"TotalSupply"}, {"ClientAccountID"}, {"BalanceOf", "x"}, {"Approve", "x", "1"}} {
		h.fails(minter, notInitialized, fn...)
	}
	h.fails(bob, "client is not authorized to initialize contract", "Initialize", "Bob Coin", "BOB", "2")
	h.fails(minter, `Initialize: decimals "256" is not an integer from 0 to 255`, "Initialize", "X", "X", "256")
	h.fails(minter, "the token name is empty", "Initialize", "", "X", "2")
	h.ok(minter, "true", "Initialize", "Chorus Coin", "CHC", "2")
	h.fails(alice, "contract options are already set, client is not authorized to change them", "Initialize", "Other", "O", "0")
	h.ok(bob, "Chorus Coin", "Name")
	h.ok(bob, "CHC", "Symbol")
	h.ok(bob, "2", "Decimals")
	h.ok(bob, "0", "TotalSupply")
}

func TestMintTransferBurn(t *testing.T) {
	h := newHarness(t, true)
	m, a, b := minter.ClientID(), alice.ClientID(), bob.ClientID()

	h.ok(minter, m, "ClientAccountID")
	h.ok(bob, b, "ClientAccountID")
	h.fails(minter, "the account "+m+" does not exist", "ClientAccountBalance")

	r := h.ok(minter, "", "Mint", "1000")
	wantEvent(t, r, "Transfer", "0x0", m, 1000)
	h.ok(minter, "1000", "ClientAccountBalance")
	h.ok(bob, "1000", "TotalSupply")
	h.fails(bob, "client is not authorized to mint new tokens", "Mint", "5")
	h.fails(minter, "mint amount must be a positive integer", "Mint", "0")
	h.fails(minter, "mint amount must be a positive integer", "Mint", "-5")
	h.fails(minter, `Mint: amount "1.5" is not an integer`, "Mint", "1.5")

	r = h.ok(minter, "", "Transfer", b, "300")
	wantEvent(t, r, "Transfer", m, b, 300)
	if h.balance(minter) != 700 || h.balance(bob) != 300 {
		t.Errorf("balances %d %d", h.balance(minter), h.balance(bob))
	}
	// Bob, of another organization, pays Alice.
	r = h.ok(bob, "", "Transfer", a, "100")
	wantEvent(t, r, "Transfer", b, a, 100)
	h.ok(alice, "100", "ClientAccountBalance")
	h.ok(bob, "", "Transfer", a, "0") // ERC-20 allows transfers of 0

	h.fails(bob, "failed to transfer: client account "+b+" has insufficient funds", "Transfer", a, "201")
	h.fails(bob, "failed to transfer: transfer amount cannot be negative", "Transfer", a, "-1")
	h.fails(bob, "failed to transfer: cannot transfer to and from same client account", "Transfer", b, "1")
	h.fails(bob, "failed to transfer: the recipient account is empty", "Transfer", "", "1")
	newcomer := contracttest.NewIdentity("Org2MSP", "carol@org2.example.com")
	h.fails(newcomer, "failed to transfer: client account "+newcomer.ClientID()+" has no balance", "Transfer", a, "1")
	// An account named like the supply's key is just an account.
	h.ok(minter, "", "Transfer", "totalSupply", "1")
	h.ok(bob, "1000", "TotalSupply")

	r = h.ok(minter, "", "Burn", "99")
	wantEvent(t, r, "Transfer", m, "0x0", 99)
	h.ok(bob, "901", "TotalSupply")
	h.ok(minter, "600", "ClientAccountBalance")
	h.fails(minter, "client account "+m+" has insufficient funds", "Burn", "601")
	h.fails(minter, "burn amount must be a positive integer", "Burn", "0")
	h.fails(bob, "client is not authorized to burn tokens", "Burn", "1")
	h.fails(alice, "client account "+a+" has insufficient funds", "Burn", "101")
}

func TestAllowances(t *testing.T) {
	h := newHarness(t, true)
	m, a, b := minter.ClientID(), alice.ClientID(), bob.ClientID()
	h.ok(minter, "", "Mint", "500")

	h.ok(bob, "0", "Allowance", m, b)
	r := h.ok(minter, "", "Approve", b, "200")
	wantEvent(t, r, "Approval", m, b, 200)
	h.ok(alice, "200", "Allowance", m, b)
	h.fails(minter, "approval amount cannot be negative", "Approve", b, "-1")

	// Bob spends the minter's tokens, paying Alice.
	r = h.ok(bob, "", "TransferFrom", m, a, "150")
	wantEvent(t, r, "Transfer", m, a, 150)
	h.ok(bob, "50", "Allowance", m, b)
	if h.balance(minter) != 350 || h.balance(alice) != 150 || h.balance(bob) != -1 {
		t.Errorf("balances %d %d %d", h.balance(minter), h.balance(alice), h.balance(bob))
	}
	h.fails(bob, "spender does not have enough allowance for transfer", "TransferFrom", m, a, "51")
	h.fails(alice, "spender does not have enough allowance for transfer", "TransferFrom", m, a, "1")

	// An allowance larger than the balance does not create tokens.
	h.ok(alice, "", "Approve", b, "1000")
	h.fails(bob, "failed to transfer: client account "+a+" has insufficient funds", "TransferFrom", a, b, "151")
	h.ok(bob, "1000", "Allowance", a, b)
}

func TestOverflow(t *testing.T) {
	h := newHarness(t, true)
	maxInt := strconv.FormatInt(math.MaxInt64, 10)
	h.fails(minter, fmt.Sprintf(`Mint: amount "%s0" is not an integer`, maxInt), "Mint", maxInt+"0")
	h.ok(minter, "", "Mint", maxInt)
	h.fails(minter, "the balance of account "+minter.ClientID()+" would overflow: 9223372036854775807 + 1 overflows a 64-bit integer", "Mint", "1")
	h.ok(minter, "", "Transfer", bob.ClientID(), maxInt)
	// Bob's balance is the maximum, the minter's 0: the supply overflows.
	h.fails(minter, "the total supply would overflow: 9223372036854775807 + 1 overflows a 64-bit integer", "Mint", "1")
	h.ok(bob, maxInt, "TotalSupply")
}

func TestMinterOrganization(t *testing.T) {
	defer func(m string) { minterMSPID = m }(minterMSPID)
	minterMSPID = "Org2MSP"
	h := newHarness(t, false)
	h.fails(minter, "client is not authorized to initialize contract", "Initialize", "Chorus Coin", "CHC", "2")
	h.ok(bob, "true", "Initialize", "Chorus Coin", "CHC", "2")
	h.ok(bob, "", "Mint", "10")
	h.fails(minter, "client is not authorized to mint new tokens", "Mint", "10")
}

// Two transfers spending the same balance, endorsed on the same state: the
// second to commit conflicts, so no token is spent twice.
func TestDoubleSpend(t *testing.T) {
	h := newHarness(t, true)
	h.ok(minter, "", "Mint", "100")
	x, y := h.l.Begin(minter, "token"), h.l.Begin(minter, "token")
	if err := (Token{}).Transfer(contract.NewContext(x), alice.ClientID(), 100); err != nil {
		t.Fatal(err)
	}
	if err := (Token{}).Transfer(contract.NewContext(y), bob.ClientID(), 100); err != nil {
		t.Fatal(err)
	}
	if err := x.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := y.Commit(); !errors.Is(err, contracttest.ErrConflict) {
		t.Errorf("second transfer: %v, want a conflict", err)
	}
	if h.balance(minter) != 0 || h.balance(alice) != 100 || h.balance(bob) != -1 {
		t.Errorf("balances %d %d %d", h.balance(minter), h.balance(alice), h.balance(bob))
	}
}
