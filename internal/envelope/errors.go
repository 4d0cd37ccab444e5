package envelope

import (
	"errors"
	"fmt"

	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// Error is a malformed transaction message. Code is the validation code a
// committing peer records for a transaction that fails this way.
type Error struct {
	Code peerpb.TxValidationCode
	Msg  string
	Err  error // the underlying decoding error, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("envelope: %s: %v", e.Msg, e.Err)
	}
	return "envelope: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func malformed(code peerpb.TxValidationCode, err error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the validation code carried by err, or
// INVALID_OTHER_REASON when err is not an *Error.
func CodeOf(err error) peerpb.TxValidationCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return peerpb.TxValidationCode_INVALID_OTHER_REASON
}
