package contract_test

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
)

// label is a parameter type that converts itself.
type label string

func (l *label) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("the label is empty")
	}
	*l = label(strings.ToUpper(string(b)))
	return nil
}

// typed has a transaction function for every kind of parameter, each of a
// shape that Direct accepts.
type typed struct{}

func (typed) Str(ctx contract.Context, s string) (string, error)   { return s, nil }
func (typed) Bytes(ctx contract.Context, b []byte) ([]byte, error) { return b, nil }
func (typed) Bool(ctx contract.Context, b bool) (bool, error)      { return b, nil }
func (typed) Label(ctx contract.Context, l label) (label, error)   { return l, nil }
func (typed) Big(ctx contract.Context, n *big.Int) (string, error) { return n.String(), nil }
func (typed) Named(ctx contract.Context, c color, n amount, b blob) (color, error) {
	return color(fmt.Sprintf("%s/%d/%s", c, n, b)), nil
}
func (typed) Float(ctx contract.Context, a float32, b float64) ([]float64, error) {
	return []float64{float64(a), b}, nil
}
func (typed) Ints(ctx contract.Context, a int, b int8, c int16, d int32, e int64) (string, error) {
	return fmt.Sprint(a, b, c, d, e), nil
}
func (typed) Uints(ctx contract.Context, a uint, b uint8, c uint16, d uint32, e uint64) (string, error) {
	return fmt.Sprint(a, b, c, d, e), nil
}
func (typed) JSON(ctx contract.Context, p point, q *point, m map[string]int, s []string, a any) (map[string]any, error) {
	return map[string]any{"p": p, "q": q, "m": m, "s": s, "a": a}, nil
}
func (typed) Six(ctx contract.Context, a, b, c, d, e, f string) error {
	if a+b+c+d+e+f != "abcdef" {
		return fmt.Errorf("got %s", a+b+c+d+e+f)
	}
	return nil
}
func (typed) Fail(ctx contract.Context, fail bool) error {
	if fail {
		return errors.New("it failed")
	}
	return nil
}
func (typed) FailValue(ctx contract.Context) (int, error)  { return 7, errors.New("no value") }
func (typed) Panic(ctx contract.Context, msg string) error { panic(msg) }
func (typed) NaN(ctx contract.Context) (float64, error)    { return float64(0) / zero, nil }
func (typed) TxID(ctx contract.Context) (string, error)    { return ctx.GetStub().GetTxID(), nil }

var typedDirect = contract.Direct(
	contract.TxR1(typed.Str),
	contract.TxR1(typed.Bytes),
	contract.TxR1(typed.Bool),
	contract.TxR1(typed.Label),
	contract.TxR1(typed.Big),
	contract.TxR3(typed.Named),
	contract.TxR2(typed.Float),
	contract.TxR5(typed.Ints),
	contract.TxR5(typed.Uints),
	contract.TxR5(typed.JSON),
	contract.Tx6(typed.Six),
	contract.Tx1(typed.Fail),
	contract.TxR0(typed.FailValue),
	contract.Tx1(typed.Panic),
	contract.TxR0(typed.NaN),
	contract.TxR0(typed.TxID),
)

// TestDirectAnswersAsReflection invokes every function of a contract
// through a router that calls them reflectively and one that calls them
// through Direct, with arguments that convert and arguments that do not,
// and requires the same responses.
func TestDirectAnswersAsReflection(t *testing.T) {
	params := contract.Params("Ints", "a", "b", "c", "d", "e")
	reflective, err := contract.NewRouter(typed{}, params)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := contract.NewRouter(typed{}, params, typedDirect)
	if err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"Str", "héllo \x00"}, {"Str", ""}, {"Str"},
		{"Bytes", "\xff\x00"}, {"Bytes", ""},
		{"Bool", "true"}, {"Bool", "0"}, {"Bool", "yes"}, {"Bool", strings.Repeat("9", 300)},
		{"Label", "red"}, {"Label", ""},
		{"Big", "123456789012345678901234567890"}, {"Big", "x"},
		{"Named", "red", "-5", "raw"}, {"Named", "red", "40000", "raw"},
		{"Float", "1.5", "-2e3"}, {"Float", "1.5", "NaN"}, {"Float", "1e39", "1"}, {"Float", "1", "+Inf"},
		{"Ints", "-9223372036854775808", "-128", "32767", "-2147483648", "9223372036854775807"},
		{"Ints", "9223372036854775808", "1", "1", "1", "1"}, {"Ints", "1", "128", "1", "1", "1"},
		{"Ints", "1", "1", "1", "2147483648", "1"}, {"Ints", "1", "1", "1", "1", "1.0"}, {"Ints", "1", "x", "y", "1", "1"},
		{"Uints", "18446744073709551615", "255", "65535", "4294967295", "18446744073709551615"},
		{"Uints", "-1", "1", "1", "1", "1"}, {"Uints", "1", "1", "1", "4294967296", "1"}, {"Uints", "1", "1", "1", "1", "18446744073709551616"},
		{"JSON", `{"X":1,"Y":2}`, `{"X":3}`, `{"b":2,"a":1}`, `["x","y"]`, `{"k":[1,"two",null]}`},
		{"JSON", `{}`, `null`, `null`, `null`, `null`}, {"JSON", `{"X":"one"}`, `{}`, `{}`, `[]`, `1`},
		{"Six", "a", "b", "c", "d", "e", "f"}, {"Six", "a", "b", "c", "d", "e", "g"}, {"Six", "a"},
		{"Fail", "false"}, {"Fail", "true"}, {"FailValue"},
		{"Panic", "oops"}, {"NaN"}, {"TxID", "x"}, {"typed:Str", "prefixed"}, {"Nope"},
	}
	for _, args := range cases {
		want, got := invoke(t, reflective, args...), invoke(t, direct, args...)
		if got.Status != want.Status || got.Message != want.Message || string(got.Payload) != string(want.Payload) {
			t.Errorf("%q:\n direct     %d %q %q\n reflective %d %q %q", args, got.Status, got.Message, got.Payload, want.Status, want.Message, want.Payload)
		}
	}
	// A few answers in full, so that both routers cannot be wrong alike.
	for _, tc := range []struct {
		args []string
		want contract.Response
	}{
		{[]string{"Label", "red"}, contract.Success([]byte("RED"))},
		{[]string{"Label", ""}, contract.Error("Label: the label is empty")},
		{[]string{"Ints", "1", "128", "1", "1", "1"}, contract.Error(`Ints: b "128" is not an integer from -128 to 127`)},
		{[]string{"Six", "a", "b", "c", "d", "e", "f"}, contract.Success(nil)},
		{[]string{"Panic", "oops"}, contract.Error("Panic panicked: oops")},
	} {
		got := invoke(t, direct, tc.args...)
		if got.Status != tc.want.Status || got.Message != tc.want.Message || string(got.Payload) != string(tc.want.Payload) {
			t.Errorf("%q: got %d %q %q", tc.args, got.Status, got.Message, got.Payload)
		}
	}
	if got := invoke(t, direct, "TxID"); len(got.Payload) != 64 {
		t.Errorf("TxID returned %q", got.Payload)
	}
}

// onPointer has a method with a pointer receiver.
type onPointer struct{}

func (*onPointer) Get(ctx contract.Context) (string, error) { return "p", nil }

// other has a method of the same name and type as typed's.
type other struct{}

func (other) Str(ctx contract.Context, s string) (string, error) { return s, nil }

func notAMethod(typed, contract.Context) (string, error) { return "", nil }

func TestDirectErrors(t *testing.T) {
	for _, tc := range []struct {
		c    any
		tx   []contract.Tx
		want string
	}{
		{typed{}, []contract.Tx{{}}, "contract: NewRouter: Direct: a nil function or a zero Tx"},
		{typed{}, []contract.Tx{contract.TxR0[typed, string](nil)}, "contract: NewRouter: Direct: a nil function or a zero Tx"},
		{typed{}, []contract.Tx{contract.TxR0(notAMethod)},
			"contract: NewRouter: Direct: github.com/chorusledger/chorus/sdk/contract_test.notAMethod is not a method expression of a transaction function of contract_test.typed"},
		{typed{}, []contract.Tx{contract.TxR1(other.Str)},
			"contract: NewRouter: Direct: github.com/chorusledger/chorus/sdk/contract_test.other.Str is not a method expression of a transaction function of contract_test.typed"},
		{&typed{}, []contract.Tx{contract.TxR1(typed.Str)},
			"contract: NewRouter: Direct: github.com/chorusledger/chorus/sdk/contract_test.typed.Str is not a method expression of a transaction function of *contract_test.typed"},
		{typed{}, []contract.Tx{contract.TxR1(typed.Str), contract.TxR1(typed.Str)}, "contract: NewRouter: Direct: Str given twice"},
	} {
		_, err := contract.NewRouter(tc.c, contract.Direct(tc.tx...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
	// A contract given as a pointer takes method expressions of the pointer.
	r, err := contract.NewRouter(&onPointer{}, contract.Direct(contract.TxR0((*onPointer).Get)))
	if err != nil {
		t.Fatal(err)
	}
	if got := invoke(t, r, "Get"); string(got.Payload) != "p" {
		t.Errorf("Get: %d %q", got.Status, got.Message)
	}
}
