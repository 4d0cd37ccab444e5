package contract

import (
	"fmt"

	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// Status codes of a Response, as Fabric's shim defines them: a status
// below StatusErrorThreshold is a success that may be endorsed, one at or
// above it is an error that is not.
const (
	StatusOK             int32 = 200
	StatusErrorThreshold int32 = 400
	StatusNotFound       int32 = 404
	StatusError          int32 = 500
)

// Response is what a contract answers to an invocation: Fabric's
// peer.Response. Message explains an error; Payload is the result returned
// to the client.
type Response struct {
	Status  int32
	Message string
	Payload []byte
}

// Success returns a 200 Response carrying payload.
func Success(payload []byte) Response {
	return Response{Status: StatusOK, Payload: payload}
}

// Errorf returns a 500 Response whose message is formatted as fmt.Errorf
// formats it (so %w is accepted).
func Errorf(format string, args ...any) Response {
	return Statusf(StatusError, format, args...)
}

// Statusf returns a Response with the given status and a message formatted
// as fmt.Errorf formats it.
func Statusf(status int32, format string, args ...any) Response {
	return Response{Status: status, Message: fmt.Errorf(format, args...).Error()}
}

// IsError reports whether r is an error: a status at or above
// StatusErrorThreshold, which an endorser does not endorse.
func (r Response) IsError() bool {
	return r.Status >= StatusErrorThreshold
}

// Proto returns r as Fabric's peer.Response. The payload is shared, not
// copied.
func (r Response) Proto() *peerpb.Response {
	return &peerpb.Response{Status: r.Status, Message: r.Message, Payload: r.Payload}
}

// Contract is a smart contract: native Go code, or (later) a WebAssembly
// module behind the same interface. Invoke runs one invocation against the
// transaction described by stub and returns the Response; errors are
// Responses with a status of 400 or more, usually 500 (Errorf).
//
// Invoke may be called concurrently for different transactions, each with
// its own Stub: a Contract must keep no mutable state of its own. Everything
// it remembers lives in the world state, through the stub. It must be
// deterministic: given the same stub answers it must make the same calls
// and return the same Response on every peer, so it must not read the
// clock, randomness, the environment or the network, nor depend on map
// iteration order. A panic is recovered by the host and becomes a 500
// Response.
type Contract interface {
	Invoke(stub Stub) Response
}

// ContractFunc adapts a function to the Contract interface.
type ContractFunc func(stub Stub) Response

// Invoke calls f(stub).
func (f ContractFunc) Invoke(stub Stub) Response { return f(stub) }
