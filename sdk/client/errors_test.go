package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

func endorseStatus(t *testing.T) *status.Status {
	t.Helper()
	st, err := status.New(codes.Aborted, "failed to endorse transaction, see attached details for more info").WithDetails(
		&gatewaypb.ErrorDetail{Address: "127.0.0.1:7401", MspId: "Org1MSP", Message: "chaincode response 500, asset asset1 already exists"},
		&peerpb.Response{Status: 500}, // another detail type: ignored
		&gatewaypb.ErrorDetail{Address: "127.0.0.1:7411", MspId: "Org2MSP", Message: "chaincode response 500, asset asset1 already exists"},
	)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestGatewayErrorFromStatusDetails(t *testing.T) {
	st := endorseStatus(t)
	ge := newGatewayError(context.Background(), st.Err())
	if ge.Code != codes.Aborted || ge.Message != st.Message() {
		t.Fatalf("code %v message %q", ge.Code, ge.Message)
	}
	want := []ErrorDetail{
		{Address: "127.0.0.1:7401", MSPID: "Org1MSP", Message: "chaincode response 500, asset asset1 already exists"},
		{Address: "127.0.0.1:7411", MSPID: "Org2MSP", Message: "chaincode response 500, asset asset1 already exists"},
	}
	if len(ge.Details) != len(want) || ge.Details[0] != want[0] || ge.Details[1] != want[1] {
		t.Fatalf("details = %+v, want %+v", ge.Details, want)
	}
	msg := ge.Error()
	for _, s := range []string{"client: ", "Aborted", "failed to endorse transaction", "Org1MSP at 127.0.0.1:7401: chaincode response 500", "Org2MSP at 127.0.0.1:7411"} {
		if !strings.Contains(msg, s) {
			t.Errorf("Error() = %q, want it to contain %q", msg, s)
		}
	}
	if status.Code(ge) != codes.Aborted || !proto.Equal(status.Convert(ge).Proto(), st.Proto()) {
		t.Error("GRPCStatus does not give back the original status")
	}
	if errors.Unwrap(ge) != nil {
		t.Error("a Gateway error unrelated to the context unwraps to something")
	}
}

func TestTransactionErrorsWrapGatewayError(t *testing.T) {
	ge := newGatewayError(context.Background(), endorseStatus(t).Err())
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&EndorseError{TransactionID: "tx1", Err: ge}, "client: endorsing transaction tx1: Aborted: failed to endorse"},
		{&SubmitError{TransactionID: "tx1", Err: ge}, "client: submitting transaction tx1: Aborted"},
		{&CommitStatusError{TransactionID: "tx1", Err: ge}, "client: commit status of transaction tx1: Aborted"},
	} {
		msg := tc.err.Error()
		if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, "asset asset1 already exists") {
			t.Errorf("Error() = %q, want the prefix %q and the details", msg, tc.want)
		}
		var got *GatewayError
		if !errors.As(tc.err, &got) || got != ge {
			t.Errorf("%T does not unwrap to its GatewayError", tc.err)
		}
		if status.Code(tc.err) != codes.Aborted {
			t.Errorf("status.Code(%T) = %v, want Aborted", tc.err, status.Code(tc.err))
		}
	}
}

func TestGatewayErrorFromEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ge := newGatewayError(ctx, status.Error(codes.Canceled, "context canceled"))
	if !errors.Is(ge, context.Canceled) || ge.Code != codes.Canceled {
		t.Fatalf("error %v (code %v) does not match context.Canceled", ge, ge.Code)
	}
	wrapped := &CommitStatusError{TransactionID: "tx", Err: ge}
	if !errors.Is(wrapped, context.Canceled) {
		t.Fatal("CommitStatusError does not match context.Canceled")
	}
	// The server's own DeadlineExceeded, with the client's context alive,
	// is not the context's error.
	ge = newGatewayError(context.Background(), status.Error(codes.DeadlineExceeded, "evaluate timeout expired"))
	if errors.Is(ge, context.DeadlineExceeded) {
		t.Fatal("a server-side timeout matches context.DeadlineExceeded")
	}
	// A non-status error becomes Unknown.
	ge = newGatewayError(context.Background(), errors.New("boom"))
	if ge.Code != codes.Unknown || ge.Message != "boom" {
		t.Fatalf("code %v message %q", ge.Code, ge.Message)
	}
}

func TestCommitError(t *testing.T) {
	err := newCommitError(&Status{Code: 11, CodeName: validationCodeName(11), BlockNumber: 7, TransactionID: "tx1"})
	want := "client: transaction tx1 failed to commit with status code 11 (MVCC_READ_CONFLICT) in block 7"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	for code, name := range map[int32]string{0: "VALID", 10: "ENDORSEMENT_POLICY_FAILURE", 254: "NOT_VALIDATED", 255: "INVALID_OTHER_REASON", 99: "TxValidationCode(99)"} {
		if got := validationCodeName(code); got != name {
			t.Errorf("validationCodeName(%d) = %q, want %q", code, got, name)
		}
	}
}

func TestErrorDetailString(t *testing.T) {
	for _, tc := range []struct {
		d    ErrorDetail
		want string
	}{
		{ErrorDetail{"addr", "Org1MSP", "m"}, "Org1MSP at addr: m"},
		{ErrorDetail{"", "Org1MSP", "m"}, "Org1MSP: m"},
		{ErrorDetail{"addr", "", "m"}, "addr: m"},
		{ErrorDetail{"", "", "m"}, "m"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// expiredCtx has a past deadline whose timer has not fired yet.
type expiredCtx struct{ context.Context }

func (expiredCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

func TestGatewayErrorServerDeadlineFirst(t *testing.T) {
	ge := newGatewayError(expiredCtx{context.Background()}, status.Error(codes.DeadlineExceeded, "context deadline exceeded"))
	if !errors.Is(ge, context.DeadlineExceeded) {
		t.Fatal("a DeadlineExceeded status after the context's deadline does not match context.DeadlineExceeded")
	}
}
