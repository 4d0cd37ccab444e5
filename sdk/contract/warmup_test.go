package contract_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract"
)

// recorder records what Warmup calls it with.
type recorder struct{ calls *[]string }

func (r recorder) Put(ctx contract.Context, key string, n int64, when time.Time, p point) error {
	*r.calls = append(*r.calls, "Put "+key)
	b, _ := json.Marshal(p)
	return ctx.GetStub().PutState(key, b)
}

func (r recorder) Get(ctx contract.Context, key string) (*point, error) {
	b, err := ctx.GetStub().GetState(key)
	if err != nil {
		return nil, err
	}
	if b == nil {
		*r.calls = append(*r.calls, "Get "+key+" absent")
		return nil, errors.New("absent")
	}
	*r.calls = append(*r.calls, "Get "+key+" found")
	var p point
	return &p, json.Unmarshal(b, &p)
}

func (r recorder) Boom(ctx contract.Context) error {
	*r.calls = append(*r.calls, "Boom")
	panic("boom")
}

func TestWarmup(t *testing.T) {
	var calls []string
	r, err := contract.NewRouter(recorder{&calls}, contract.Params("Get", "key"), contract.Params("Put", "key", "n", "when", "p"))
	if err != nil {
		t.Fatal(err)
	}
	r.Warmup() // the panic of Boom is contained
	// Twice, in the router's order, with placeholders that convert; the
	// second Get reads what the first Put wrote.
	want := []string{"Get warmup absent", "Put warmup", "Boom", "Get warmup found", "Put warmup", "Boom"}
	if !slices.Equal(calls, want) {
		t.Errorf("warm-up calls %q, want %q", calls, want)
	}

	calls = nil
	r, err = contract.NewRouter(recorder{&calls}, contract.WithoutWarmup())
	if err != nil {
		t.Fatal(err)
	}
	r.Warmup()
	if len(calls) != 0 {
		t.Errorf("WithoutWarmup: calls %q", calls)
	}
}
