// Command token is a sample ERC-20 fungible token contract as a
// WebAssembly module, after Hyperledger Fabric's token-erc-20 sample (its
// Go chaincode): the same functions, arguments, results and events, with
// the same account ids, so that its applications run unchanged.
//
// An account is a client identity: its id is Fabric's client id, the
// base64 of "x509::<subject DN>::<issuer DN>" of the client's certificate
// (cid.GetID). Clients of the minter organization, Org1MSP unless the
// module is built with -ldflags=-X=main.minterMSPID=OtherMSP, initialize
// the token and mint and burn tokens; everyone transfers, approves and
// spends allowances. Amounts are 64-bit integers given as decimal strings.
//
//	Initialize(name, symbol, decimals)   true; once, by the minter organization
//	Name(), Symbol(), Decimals()          the token's options
//	Mint(amount)                         ""; adds amount to the caller's account and the supply
//	Burn(amount)                         ""; removes amount from the caller's account and the supply
//	Transfer(recipient, amount)          ""; from the caller's account
//	TransferFrom(from, to, amount)       ""; spends the caller's allowance from from
//	Approve(spender, amount)             ""; sets spender's allowance on the caller's account
//	Allowance(owner, spender)            what spender may still spend from owner's account
//	BalanceOf(account)                   the account's balance; error if it has none
//	ClientAccountBalance()               the caller's balance
//	ClientAccountID()                    the caller's account id
//	TotalSupply()                        the tokens in circulation
//
// Mint, Burn, Transfer and TransferFrom emit the event Transfer, Approve the
// event Approval, with the JSON payload {"from":...,"to":...,"value":...}
// of Fabric's Go sample (Mint is from "0x0", Burn to "0x0"; an Approval is
// from the owner to the spender).
//
// Unlike Fabric's sample, balances and allowances live under composite
// keys ("balance", account) and ("allowance", owner, spender), so that an
// account named "totalSupply" cannot overwrite the supply; every addition
// is checked for overflow and every subtraction for sufficient funds;
// negative approvals and empty account ids are refused.
//
// Build the module with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o token.wasm ./samples/token
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/cid"
)

// minterMSPID is the organization whose clients initialize the token and
// mint and burn tokens. Set it at build time with
// -ldflags=-X=main.minterMSPID=Org2MSP.
var minterMSPID = "Org1MSP"

// Keys of the token's options and supply, and object types of the
// composite keys of balances and allowances.
const (
	nameKey         = "name"
	symbolKey       = "symbol"
	decimalsKey     = "decimals"
	totalSupplyKey  = "totalSupply"
	balancePrefix   = "balance"
	allowancePrefix = "allowance"
	// mintAccount stands for "no account" in Transfer events of Mint and
	// Burn, as in ERC-20 and Fabric's sample.
	mintAccount = "0x0"
)

// Token is the contract. It holds no state of its own.
type Token struct{}

// event is the payload of the Transfer and Approval events.
type event struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Value int64  `json:"value"`
}

func init() {
	contract.Register(Token{},
		contract.Name("token"),
		contract.Params("Initialize", "name", "symbol", "decimals"),
		contract.Params("Name"),
		contract.Params("Symbol"),
		contract.Params("Decimals"),
		contract.Params("Mint", "amount"),
		contract.Params("Burn", "amount"),
		contract.Params("Transfer", "recipient", "amount"),
		contract.Params("TransferFrom", "from", "to", "value"),
		contract.Params("Approve", "spender", "value"),
		contract.Params("Allowance", "owner", "spender"),
		contract.Params("BalanceOf", "account"),
		contract.Params("ClientAccountBalance"),
		contract.Params("ClientAccountID"),
		contract.Params("TotalSupply"),
	)
}

// main is never called: the module is a reactor.
func main() {}

// Initialize sets the token's name, symbol and decimals, once.
func (Token) Initialize(ctx contract.Context, name, symbol string, decimals uint8) (bool, error) {
	if err := checkMinter(ctx, "initialize contract"); err != nil {
		return false, err
	}
	stub := ctx.GetStub()
	b, err := stub.GetState(nameKey)
	if err != nil {
		return false, fmt.Errorf("failed to get Name: %w", err)
	}
	if b != nil {
		return false, errors.New("contract options are already set, client is not authorized to change them")
	}
	if name == "" {
		return false, errors.New("the token name is empty")
	}
	for _, kv := range [...][2]string{{nameKey, name}, {symbolKey, symbol}, {decimalsKey, strconv.Itoa(int(decimals))}} {
		if err := stub.PutState(kv[0], []byte(kv[1])); err != nil {
			return false, fmt.Errorf("failed to set %s: %w", kv[0], err)
		}
	}
	return true, nil
}

// Name returns the token's name.
func (Token) Name(ctx contract.Context) (string, error) { return option(ctx, nameKey) }

// Symbol returns the token's symbol.
func (Token) Symbol(ctx contract.Context) (string, error) { return option(ctx, symbolKey) }

// Decimals returns how many decimals the token's amounts have.
func (Token) Decimals(ctx contract.Context) (int, error) {
	s, err := option(ctx, decimalsKey)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// Mint creates amount tokens in the caller's account.
func (Token) Mint(ctx contract.Context, amount int64) error {
	if err := checkInitialized(ctx); err != nil {
		return err
	}
	if err := checkMinter(ctx, "mint new tokens"); err != nil {
		return err
	}
	minter, err := clientID(ctx)
	if err != nil {
		return err
	}
	if amount <= 0 {
		return errors.New("mint amount must be a positive integer")
	}
	if err := addBalance(ctx, minter, amount); err != nil {
		return err
	}
	supply, err := intState(ctx, totalSupplyKey)
	if err != nil {
		return err
	}
	supply, err = add(supply, amount)
	if err != nil {
		return fmt.Errorf("the total supply would overflow: %w", err)
	}
	if err := putInt(ctx, totalSupplyKey, supply); err != nil {
		return err
	}
	return emit(ctx, "Transfer", event{From: mintAccount, To: minter, Value: amount})
}

// Burn destroys amount tokens of the caller's account.
func (Token) Burn(ctx contract.Context, amount int64) error {
	if err := checkInitialized(ctx); err != nil {
		return err
	}
	if err := checkMinter(ctx, "burn tokens"); err != nil {
		return err
	}
	minter, err := clientID(ctx)
	if err != nil {
		return err
	}
	if amount <= 0 {
		return errors.New("burn amount must be a positive integer")
	}
	if err := subBalance(ctx, minter, amount); err != nil {
		return err
	}
	supply, err := intState(ctx, totalSupplyKey)
	if err != nil {
		return err
	}
	if supply < amount {
		return fmt.Errorf("the total supply %d is less than %d", supply, amount)
	}
	if err := putInt(ctx, totalSupplyKey, supply-amount); err != nil {
		return err
	}
	return emit(ctx, "Transfer", event{From: minter, To: mintAccount, Value: amount})
}

// Transfer moves amount tokens from the caller's account to recipient's.
func (Token) Transfer(ctx contract.Context, recipient string, amount int64) error {
	if err := checkInitialized(ctx); err != nil {
		return err
	}
	from, err := clientID(ctx)
	if err != nil {
		return err
	}
	if err := transfer(ctx, from, recipient, amount); err != nil {
		return fmt.Errorf("failed to transfer: %w", err)
	}
	return emit(ctx, "Transfer", event{From: from, To: recipient, Value: amount})
}

// BalanceOf returns the balance of account, which must exist.
func (Token) BalanceOf(ctx contract.Context, account string) (int64, error) {
	if err := checkInitialized(ctx); err != nil {
		return 0, err
	}
	return balance(ctx, account)
}

// ClientAccountBalance returns the balance of the caller's account.
func (Token) ClientAccountBalance(ctx contract.Context) (int64, error) {
	if err := checkInitialized(ctx); err != nil {
		return 0, err
	}
	id, err := clientID(ctx)
	if err != nil {
		return 0, err
	}
	return balance(ctx, id)
}

// ClientAccountID returns the caller's account id, to give to those who
// pay it.
func (Token) ClientAccountID(ctx contract.Context) (string, error) {
	if err := checkInitialized(ctx); err != nil {
		return "", err
	}
	return clientID(ctx)
}

// TotalSupply returns the number of tokens in circulation.
func (Token) TotalSupply(ctx contract.Context) (int64, error) {
	if err := checkInitialized(ctx); err != nil {
		return 0, err
	}
	return intState(ctx, totalSupplyKey)
}

// Approve lets spender spend up to value tokens of the caller's account,
// replacing any earlier allowance.
func (Token) Approve(ctx contract.Context, spender string, value int64) error {
	if err := checkInitialized(ctx); err != nil {
		return err
	}
	owner, err := clientID(ctx)
	if err != nil {
		return err
	}
	if spender == "" {
		return errors.New("the spender account is empty")
	}
	if value < 0 {
		return errors.New("approval amount cannot be negative")
	}
	key, err := ctx.GetStub().CreateCompositeKey(allowancePrefix, []string{owner, spender})
	if err != nil {
		return fmt.Errorf("failed to create the composite key for prefix %s: %w", allowancePrefix, err)
	}
	if err := putInt(ctx, key, value); err != nil {
		return err
	}
	return emit(ctx, "Approval", event{From: owner, To: spender, Value: value})
}

// Allowance returns what spender may still spend from owner's account.
func (Token) Allowance(ctx contract.Context, owner, spender string) (int64, error) {
	if err := checkInitialized(ctx); err != nil {
		return 0, err
	}
	key, err := ctx.GetStub().CreateCompositeKey(allowancePrefix, []string{owner, spender})
	if err != nil {
		return 0, fmt.Errorf("failed to create the composite key for prefix %s: %w", allowancePrefix, err)
	}
	return intState(ctx, key)
}

// TransferFrom moves value tokens from from's account to to's, spending
// the caller's allowance on from's account.
func (Token) TransferFrom(ctx contract.Context, from, to string, value int64) error {
	if err := checkInitialized(ctx); err != nil {
		return err
	}
	spender, err := clientID(ctx)
	if err != nil {
		return err
	}
	key, err := ctx.GetStub().CreateCompositeKey(allowancePrefix, []string{from, spender})
	if err != nil {
		return fmt.Errorf("failed to create the composite key for prefix %s: %w", allowancePrefix, err)
	}
	allowance, err := intState(ctx, key)
	if err != nil {
		return err
	}
	if allowance < value {
		return errors.New("spender does not have enough allowance for transfer")
	}
	if err := transfer(ctx, from, to, value); err != nil {
		return fmt.Errorf("failed to transfer: %w", err)
	}
	if err := putInt(ctx, key, allowance-value); err != nil {
		return err
	}
	return emit(ctx, "Transfer", event{From: from, To: to, Value: value})
}

// transfer moves value tokens from one account to another.
func transfer(ctx contract.Context, from, to string, value int64) error {
	switch {
	case to == "":
		return errors.New("the recipient account is empty")
	case from == to:
		return errors.New("cannot transfer to and from same client account")
	case value < 0: // a transfer of 0 is allowed in ERC-20
		return errors.New("transfer amount cannot be negative")
	}
	if err := subBalance(ctx, from, value); err != nil {
		return err
	}
	return addBalance(ctx, to, value)
}

func balanceKey(ctx contract.Context, account string) (string, error) {
	key, err := ctx.GetStub().CreateCompositeKey(balancePrefix, []string{account})
	if err != nil {
		return "", fmt.Errorf("bad account %q: %w", account, err)
	}
	return key, nil
}

// balance returns the balance of account, which must exist.
func balance(ctx contract.Context, account string) (int64, error) {
	key, err := balanceKey(ctx, account)
	if err != nil {
		return 0, err
	}
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return 0, fmt.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return 0, fmt.Errorf("the account %s does not exist", account)
	}
	return parseInt(key, b)
}

func addBalance(ctx contract.Context, account string, amount int64) error {
	key, err := balanceKey(ctx, account)
	if err != nil {
		return err
	}
	current, err := intState(ctx, key)
	if err != nil {
		return err
	}
	updated, err := add(current, amount)
	if err != nil {
		return fmt.Errorf("the balance of account %s would overflow: %w", account, err)
	}
	return putInt(ctx, key, updated)
}

func subBalance(ctx contract.Context, account string, amount int64) error {
	key, err := balanceKey(ctx, account)
	if err != nil {
		return err
	}
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return fmt.Errorf("failed to read client account %s from world state: %w", account, err)
	}
	if b == nil {
		return fmt.Errorf("client account %s has no balance", account)
	}
	current, err := parseInt(key, b)
	if err != nil {
		return err
	}
	if current < amount {
		return fmt.Errorf("client account %s has insufficient funds", account)
	}
	return putInt(ctx, key, current-amount)
}

// add returns a + b for b ≥ 0, or an error if it overflows.
func add(a, b int64) (int64, error) {
	if b > math.MaxInt64-a {
		return 0, fmt.Errorf("%d + %d overflows a 64-bit integer", a, b)
	}
	return a + b, nil
}

// intState returns the integer stored under key, 0 when absent.
func intState(ctx contract.Context, key string) (int64, error) {
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return 0, fmt.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return 0, nil
	}
	return parseInt(key, b)
}

func parseInt(key string, b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the value of %q is not an integer: %q", key, b)
	}
	return n, nil
}

func putInt(ctx contract.Context, key string, n int64) error {
	if err := ctx.GetStub().PutState(key, []byte(strconv.FormatInt(n, 10))); err != nil {
		return fmt.Errorf("failed to put to world state: %w", err)
	}
	return nil
}

func option(ctx contract.Context, key string) (string, error) {
	if err := checkInitialized(ctx); err != nil {
		return "", err
	}
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return "", fmt.Errorf("failed to get %s: %w", key, err)
	}
	return string(b), nil
}

func emit(ctx contract.Context, name string, e event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("failed to obtain JSON encoding: %w", err)
	}
	if err := ctx.GetStub().SetEvent(name, b); err != nil {
		return fmt.Errorf("failed to set event: %w", err)
	}
	return nil
}

// checkInitialized returns an error until Initialize has run.
func checkInitialized(ctx contract.Context) error {
	b, err := ctx.GetStub().GetState(nameKey)
	if err != nil {
		return fmt.Errorf("failed to check if contract is already initialized: %w", err)
	}
	if b == nil {
		return errors.New("Contract options need to be set before calling any function, call Initialize() to initialize contract")
	}
	return nil
}

// checkMinter returns an error unless the caller belongs to the minter
// organization; what says what the caller is not authorized to do.
func checkMinter(ctx contract.Context, what string) error {
	ci, err := cid.New(ctx.GetStub())
	if err != nil {
		return err
	}
	msp, err := ci.GetMSPID()
	if err != nil {
		return fmt.Errorf("failed to get MSPID: %w", err)
	}
	if msp != minterMSPID {
		return fmt.Errorf("client is not authorized to %s", what)
	}
	return nil
}

func clientID(ctx contract.Context) (string, error) {
	ci, err := cid.New(ctx.GetStub())
	if err != nil {
		return "", err
	}
	id, err := ci.GetID()
	if err != nil {
		return "", fmt.Errorf("failed to get client id: %w", err)
	}
	return id, nil
}
