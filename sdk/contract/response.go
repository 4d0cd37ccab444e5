package contract

import "fmt"

// Status codes of a Response, as Fabric's shim defines them: a status
// below StatusErrorThreshold is a success that may be endorsed; one at or
// above it is an error, which is not.
const (
	StatusOK             int32 = 200
	StatusErrorThreshold int32 = 400
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

// Error returns a 500 Response with message msg.
func Error(msg string) Response {
	return Response{Status: StatusError, Message: msg}
}

// Errorf returns a 500 Response whose message is formatted as fmt.Errorf
// formats it.
func Errorf(format string, args ...any) Response {
	return Error(fmt.Errorf(format, args...).Error())
}

// IsError reports whether r is an error: a status at or above
// StatusErrorThreshold.
func (r Response) IsError() bool {
	return r.Status >= StatusErrorThreshold
}
