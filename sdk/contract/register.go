package contract

import "errors"

// registered is the contract of this module. A WebAssembly reactor module
// has no main to run: the host calls its exports, which find the contract
// here. It is set by an init function, before any invocation.
var registered Handler

// Register makes the exported methods of c, through a Router (see
// NewRouter), the contract of this module. Call it once, from an init
// function of package main or a package-level variable initializer: in a
// WebAssembly module built with -buildmode=c-shared, main never runs. It
// panics if NewRouter fails or a contract is already registered, so that a
// broken contract fails when its module is installed rather than when it is
// invoked.
func Register(c any, opts ...Option) {
	r, err := NewRouter(c, opts...)
	if err != nil {
		panic(err)
	}
	RegisterHandler(r)
}

// RegisterHandler makes h the contract of this module, like Register.
func RegisterHandler(h Handler) {
	if h == nil {
		panic(errors.New("contract: RegisterHandler: the handler is nil"))
	}
	if registered != nil {
		panic(errors.New("contract: a contract is already registered: Register or RegisterHandler may be called once per module"))
	}
	registered = h
}

// Registered returns the registered contract, or nil. Tests of a contract
// use it to run the contract as its module would.
func Registered() Handler { return registered }
