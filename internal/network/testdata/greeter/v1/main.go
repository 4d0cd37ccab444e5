// Command greeter is a test contract whose two versions answer Greet
// differently, so that an upgrade can be seen to change behaviour.
package main

import "github.com/chorusledger/chorus/sdk/contract"

// Greeter greets, and remembers who it greeted.
type Greeter struct{}

// Greet answers "hello, <name>" and records the greeting.
func (Greeter) Greet(ctx contract.Context, name string) (string, error) {
	msg := "hello, " + name
	return msg, ctx.GetStub().PutState("greeted/"+name, []byte(msg))
}

func init() { contract.Register(Greeter{}) }

func main() {}
