package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
)

// ErrorDetail is what one node (an endorsing peer, an orderer) reported
// about a failed request, as the Gateway attaches it to its error.
type ErrorDetail struct {
	// Address is the node's endpoint.
	Address string
	// MSPID is the MSP id of the node's organization.
	MSPID string
	// Message is the node's error, such as "chaincode response 500, asset
	// asset1 already exists".
	Message string
}

// String formats the detail as "Org1MSP at 127.0.0.1:7401: message".
func (d ErrorDetail) String() string {
	who := d.MSPID
	switch {
	case who != "" && d.Address != "":
		who += " at " + d.Address
	case who == "":
		who = d.Address
	}
	if who == "" {
		return d.Message
	}
	return who + ": " + d.Message
}

// GatewayError is a failed call to the Gateway: the gRPC status code and
// message, and the per-node details the Gateway attached to the status (as
// gateway.ErrorDetail messages). Evaluate and ChaincodeEvents return it as is; Endorse, Submit and
// CommitStatus wrap it in EndorseError, SubmitError and CommitStatusError.
//
// It implements GRPCStatus, so status.Code(err) and status.FromError(err)
// see the original status through any wrapping. When the call failed
// because its context ended, errors.Is(err, context.Canceled) or
// errors.Is(err, context.DeadlineExceeded) holds.
type GatewayError struct {
	// Code is the gRPC status code, such as codes.Aborted when an
	// endorsement failed.
	Code codes.Code
	// Message is the gRPC status message.
	Message string
	// Details are the per-node reports attached to the status.
	Details []ErrorDetail

	status *status.Status
	cause  error // the context's error, when it ended the call
}

// Error returns "client: <code>: <message>", followed by the details.
func (e *GatewayError) Error() string { return "client: " + e.describe() }

// describe is Error without the package prefix, for the wrapping errors.
func (e *GatewayError) describe() string {
	var b strings.Builder
	b.WriteString(e.Code.String())
	b.WriteString(": ")
	b.WriteString(e.Message)
	if len(e.Details) > 0 {
		b.WriteString(" [")
		for i, d := range e.Details {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(d.String())
		}
		b.WriteString("]")
	}
	return b.String()
}

// GRPCStatus returns the gRPC status the Gateway answered with.
func (e *GatewayError) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Unwrap returns the context error that ended the call, if any.
func (e *GatewayError) Unwrap() error { return e.cause }

// newGatewayError converts an error returned by a Gateway RPC made with
// ctx. The gatewaypb.ErrorDetail values among the status details become
// Details; other detail types are ignored.
func newGatewayError(ctx context.Context, err error) *GatewayError {
	st := status.Convert(err)
	e := &GatewayError{Code: st.Code(), Message: st.Message(), status: st}
	for _, d := range st.Details() {
		if ed, ok := d.(*gatewaypb.ErrorDetail); ok {
			e.Details = append(e.Details, ErrorDetail{Address: ed.GetAddress(), MSPID: ed.GetMspId(), Message: ed.GetMessage()})
		}
	}
	switch {
	case e.Code != codes.Canceled && e.Code != codes.DeadlineExceeded:
	case ctx.Err() != nil:
		e.cause = ctx.Err()
	case e.Code == codes.DeadlineExceeded && deadlinePassed(ctx):
		// The server, which learnt the deadline from the call, gave up
		// before the context's own timer fired.
		e.cause = context.DeadlineExceeded
	}
	return e
}

// deadlinePassed reports whether ctx has a deadline that is not in the
// future.
func deadlinePassed(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// EndorseError is a failed Endorse call: the transaction was not endorsed.
// Nothing was sent to ordering, so the application may retry with a new
// proposal. It wraps the GatewayError, which errors.As finds.
type EndorseError struct {
	// TransactionID is the id of the transaction that was not endorsed.
	TransactionID string
	// Err is the Gateway's error.
	Err *GatewayError
}

// Error describes the failure with the Gateway's details.
func (e *EndorseError) Error() string {
	return "client: endorsing transaction " + e.TransactionID + ": " + e.Err.describe()
}

// Unwrap returns the GatewayError.
func (e *EndorseError) Unwrap() error { return e.Err }

// SubmitError is a failed Submit call: the Gateway did not confirm that
// ordering accepted the transaction. The transaction may still have been
// ordered; its commit status (with the same TransactionID) tells. It wraps
// the GatewayError, which errors.As finds.
type SubmitError struct {
	// TransactionID is the id of the transaction that was submitted.
	TransactionID string
	// Err is the Gateway's error.
	Err *GatewayError
}

// Error describes the failure with the Gateway's details.
func (e *SubmitError) Error() string {
	return "client: submitting transaction " + e.TransactionID + ": " + e.Err.describe()
}

// Unwrap returns the GatewayError.
func (e *SubmitError) Unwrap() error { return e.Err }

// CommitStatusError is a failed CommitStatus call: the client does not know
// whether the transaction committed (often because the context's deadline
// passed before the transaction's block was committed). Asking again later
// may succeed. It wraps the GatewayError, which errors.As finds.
type CommitStatusError struct {
	// TransactionID is the id of the transaction whose status was asked.
	TransactionID string
	// Err is the Gateway's error.
	Err *GatewayError
}

// Error describes the failure with the Gateway's details.
func (e *CommitStatusError) Error() string {
	return "client: commit status of transaction " + e.TransactionID + ": " + e.Err.describe()
}

// Unwrap returns the GatewayError.
func (e *CommitStatusError) Unwrap() error { return e.Err }

// CommitError reports a transaction that was committed to a block but
// marked invalid there: its writes were not applied. Code is Fabric's
// TxValidationCode. MVCC_READ_CONFLICT (11) and PHANTOM_READ_CONFLICT (12)
// mean another transaction changed what this one read; endorsing and
// submitting it again usually succeeds.
type CommitError struct {
	// TransactionID is the id of the invalid transaction.
	TransactionID string
	// Code is the validation code, such as 11.
	Code int32
	// CodeName is the name of the code, such as "MVCC_READ_CONFLICT".
	CodeName string
	// BlockNumber is the block the transaction is in.
	BlockNumber uint64
}

// Error names the transaction, the code and the block.
func (e *CommitError) Error() string {
	return fmt.Sprintf("client: transaction %s failed to commit with status code %d (%s) in block %d",
		e.TransactionID, e.Code, e.CodeName, e.BlockNumber)
}

// newCommitError returns the CommitError of an unsuccessful status.
func newCommitError(s *Status) *CommitError {
	return &CommitError{TransactionID: s.TransactionID, Code: s.Code, CodeName: s.CodeName, BlockNumber: s.BlockNumber}
}
