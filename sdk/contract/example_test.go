package contract_test

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

// Counter is a contract: its exported methods, which take a
// contract.Context first, are its transaction functions.
type Counter struct{}

// Add adds n to the counter key and returns the new total.
func (Counter) Add(ctx contract.Context, key string, n int64) (int64, error) {
	stub := ctx.GetStub()
	b, err := stub.GetState(key)
	if err != nil {
		return 0, err
	}
	var total int64
	if b != nil {
		if total, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, err
		}
	}
	if n < 0 {
		return 0, errors.New("n must not be negative")
	}
	total += n
	if err := stub.PutState(key, []byte(strconv.FormatInt(total, 10))); err != nil {
		return 0, err
	}
	return total, stub.SetEvent("Added", []byte(key))
}

// A contract module registers its contract from an init function of
// package main:
//
//	func init() { contract.Register(Counter{}, contract.Name("counter"), contract.Params("Add", "key", "n")) }
//	func main() {}
//
// and its tests run it on a contracttest ledger, with contract.Registered().
func Example() {
	router, err := contract.NewRouter(Counter{}, contract.Name("counter"), contract.Params("Add", "key", "n"))
	if err != nil {
		panic(err)
	}
	l := contracttest.NewLedger()
	l.Deploy("counter", router)
	user := contracttest.NewIdentity("Org1MSP", "User1@org1.example.com")

	for _, args := range [][]string{
		{"Add", "visits", "2"},
		{"Add", "visits", "3"},
		{"Add", "visits", "-1"},
		{"Add", "visits", "many"},
		{"Add", "visits"},
		{"Subtract", "visits", "1"},
	} {
		r := l.Submit(user, "counter", args...)
		fmt.Println(r)
	}
	// Output:
	// 200 payload "2" event Added "visits"
	// 200 payload "5" event Added "visits"
	// 500 "n must not be negative"
	// 500 "Add: n \"many\" is not an integer"
	// 500 "Add takes 2 arguments (key, n); got 1"
	// 500 "unknown function \"Subtract\"; the counter contract has Add"
}
