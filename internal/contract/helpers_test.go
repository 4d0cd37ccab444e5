package contract_test

import (
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/contracttest"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// install registers f under name and commits its definition.
func install(t *testing.T, ch *contracttest.Channel, name string, f contract.ContractFunc) {
	t.Helper()
	ch.Install(name, f)
	ch.Define(name, "")
}

// mustInvoke simulates an invocation that Execute must accept.
func mustInvoke(t *testing.T, ch *contracttest.Channel, name string, args ...string) *contracttest.Tx {
	t.Helper()
	tx, err := ch.Invoke(ch.Org1Client, name, args...)
	if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return tx
}

// wantOK fails the test unless r is a success.
func wantOK(t *testing.T, r contract.Response) {
	t.Helper()
	if r.IsError() {
		t.Fatalf("response %d %q, want success", r.Status, r.Message)
	}
}

// wantError fails the test unless r is an error whose message contains
// each of subs.
func wantError(t *testing.T, r contract.Response, status int32, subs ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("response %d %q, want status %d", r.Status, r.Message, status)
	}
	for _, s := range subs {
		if !strings.Contains(r.Message, s) {
			t.Errorf("message %q does not contain %q", r.Message, s)
		}
	}
}

// commitValid commits txs in one block and fails unless all are valid.
func commitValid(t *testing.T, ch *contracttest.Channel, txs ...*contracttest.Tx) {
	t.Helper()
	for i, code := range ch.Commit(txs...) {
		if code != peerpb.TxValidationCode_VALID {
			t.Fatalf("tx %d: %v", i, code)
		}
	}
}

// namespaces returns the namespaces of tx's read/write set, in order.
func namespaces(tx *contracttest.Tx) []string {
	var out []string
	for _, ns := range tx.RWSet.GetNsRwset() {
		out = append(out, ns.GetNamespace())
	}
	return out
}

// writes returns the writes of a namespace's read/write set as
// key=value strings, deletes as key=<del>.
func writes(kv *kvrwsetpb.KVRWSet) []string {
	var out []string
	for _, w := range kv.GetWrites() {
		if w.GetIsDelete() {
			out = append(out, w.GetKey()+"=<del>")
			continue
		}
		out = append(out, w.GetKey()+"="+string(w.GetValue()))
	}
	return out
}

// readKeys returns the keys read in a namespace's read/write set.
func readKeys(kv *kvrwsetpb.KVRWSet) []string {
	var out []string
	for _, r := range kv.GetReads() {
		out = append(out, r.GetKey())
	}
	return out
}

// putter returns a contract that writes its arguments as key/value pairs.
func putter() contract.ContractFunc {
	return func(stub contract.Stub) contract.Response {
		args := stub.Args()
		for i := 0; i+1 < len(args); i += 2 {
			if err := stub.PutState(string(args[i]), args[i+1]); err != nil {
				return contract.Errorf("%w", err)
			}
		}
		return contract.Success(nil)
	}
}

// respond turns err into a 500 Response, nil into success.
func respond(err error) contract.Response {
	if err != nil {
		return contract.Errorf("%w", err)
	}
	return contract.Success(nil)
}
