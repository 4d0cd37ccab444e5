package contract_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract"
)

// nonEmpty validates its argument.
type nonEmpty string

func (n *nonEmpty) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("the name is empty")
	}
	*n = nonEmpty(b)
	return nil
}

type texts struct{}

func (texts) When(ctx contract.Context, t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
func (texts) Big(ctx contract.Context, n *big.Int) *big.Int { return new(big.Int).Mul(n, n) }
func (texts) Name(ctx contract.Context, n nonEmpty, k int8) string {
	return string(n)
}

func TestRouterTextUnmarshalers(t *testing.T) {
	r, err := contract.NewRouter(texts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args           []string
		status         int32
		message, reply string
	}{
		{[]string{"When", "2025-01-02T03:04:05.5+01:00"}, 200, "", "2025-01-02T02:04:05.5Z"},
		{[]string{"When", "yesterday"}, 500, `When: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`, ""},
		{[]string{"Big", "123456789012345678901234567890"}, 200, "", "15241578753238836750495351562536198787501905199875019052100"},
		{[]string{"Big", "12x"}, 500, `Big: math/big: cannot unmarshal "12x" into a *big.Int`, ""},
		{[]string{"Name", "bob", "1"}, 200, "", "bob"},
		// The type's validation comes before later arguments.
		{[]string{"Name", "", "x"}, 500, "Name: the name is empty", ""},
		{[]string{"Name", "bob", "x"}, 500, `Name: argument 2 "x" is not an integer from -128 to 127`, ""},
	} {
		got := invoke(t, r, tc.args...)
		if got.Status != tc.status || got.Message != tc.message || string(got.Payload) != tc.reply {
			t.Errorf("%q: %d %q %q\nwant %d %q %q", tc.args, got.Status, got.Message, got.Payload, tc.status, tc.message, tc.reply)
		}
	}
}
