package contract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
	"github.com/chorusledger/chorus/sdk/contract/contracttest"
)

type point struct {
	X, Y int
}

type (
	color  string
	amount int16
	blob   []byte
)

// conv has a transaction function for every kind of parameter and result.
type conv struct{}

func (conv) Str(ctx contract.Context, s string) string   { return s }
func (conv) Bytes(ctx contract.Context, b []byte) []byte { return b }
func (conv) Bool(ctx contract.Context, b bool) bool      { return b }
func (conv) Float(ctx contract.Context, a float32, b float64) []float64 {
	return []float64{float64(a), b}
}
func (conv) Ints(ctx contract.Context, a int, b int8, c int16, d int32, e int64) string {
	return fmt.Sprint(a, b, c, d, e)
}
func (conv) Uints(ctx contract.Context, a uint, b uint8, c uint16, d uint32, e uint64) string {
	return fmt.Sprint(a, b, c, d, e)
}
func (conv) Named(ctx contract.Context, c color, n amount, b blob) (color, error) {
	return color(fmt.Sprintf("%s/%d/%s", c, n, b)), nil
}
func (conv) JSON(ctx contract.Context, p point, q *point, m map[string]int, s []string, a any) (map[string]any, error) {
	return map[string]any{"p": p, "q": q, "m": m, "s": s, "a": a}, nil
}
func (conv) Nothing(ctx contract.Context) {}
func (conv) Fail(ctx contract.Context, fail bool) error {
	if fail {
		return errors.New("it failed")
	}
	return nil
}
func (conv) FailValue(ctx contract.Context) (int, error) { return 7, errors.New("no value") }
func (conv) Panic(ctx contract.Context, msg string) int  { panic(msg) }
func (conv) NilPointer(ctx contract.Context) *point      { return nil }
func (conv) Struct(ctx contract.Context) point           { return point{1, 2} }
func (conv) Raw(ctx contract.Context) json.RawMessage    { return json.RawMessage(`{"b":1,"a":2}`) }
func (conv) Map(ctx contract.Context) map[string]int     { return map[string]int{"z": 1, "a": 2, "m": 3} }
func (conv) NaN(ctx contract.Context) float64            { return float64(0) / zero }
func (conv) TxID(ctx contract.Context) string            { return ctx.GetStub().GetTxID() }

var zero float64

func invoke(t *testing.T, h contract.Handler, args ...string) *contracttest.Result {
	t.Helper()
	l := contracttest.NewLedger()
	l.Deploy("c", h)
	return l.Evaluate(contracttest.NewIdentity("Org1MSP", "User1@org1.example.com"), "c", args...)
}

func TestRouterConversions(t *testing.T) {
	r, err := contract.NewRouter(conv{}, contract.Params("Ints", "a", "b", "c", "d", "e"), contract.Params("Uints", "a", "b", "c", "d", "e"))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(payload string) contract.Response { return contract.Success([]byte(payload)) }
	fail := contract.Error
	for _, tc := range []struct {
		args []string
		want contract.Response
	}{
		{[]string{"Str", "héllo \x00"}, ok("héllo \x00")},
		{[]string{"Str", ""}, ok("")},
		{[]string{"Bytes", "\xff\x00"}, ok("\xff\x00")},
		{[]string{"Bool", "true"}, ok("true")},
		{[]string{"Bool", "0"}, ok("false")},
		{[]string{"Bool", "yes"}, fail(`Bool: argument 1 "yes" is not a boolean (true or false)`)},
		{[]string{"Float", "1.5", "-2e3"}, ok("[1.5,-2000]")},
		{[]string{"Float", "1.5", "NaN"}, fail(`Float: argument 2 "NaN" is not a finite number`)},
		{[]string{"Float", "1e39", "1"}, fail(`Float: argument 1 "1e39" is not a finite number`)},
		{[]string{"Float", "x", "1"}, fail(`Float: argument 1 "x" is not a finite number`)},
		{[]string{"Ints", "-9223372036854775808", "-128", "32767", "-2147483648", "9223372036854775807"},
			ok("-9223372036854775808 -128 32767 -2147483648 9223372036854775807")},
		{[]string{"Ints", "+1", "1", "1", "1", "1"}, ok("1 1 1 1 1")},
		{[]string{"Ints", "9223372036854775808", "1", "1", "1", "1"}, fail(`Ints: a "9223372036854775808" is not an integer`)},
		{[]string{"Ints", "1", "128", "1", "1", "1"}, fail(`Ints: b "128" is not an integer from -128 to 127`)},
		{[]string{"Ints", "1", "1", "-32769", "1", "1"}, fail(`Ints: c "-32769" is not an integer from -32768 to 32767`)},
		{[]string{"Ints", "1", "1", "1", "2147483648", "1"}, fail(`Ints: d "2147483648" is not an integer from -2147483648 to 2147483647`)},
		{[]string{"Ints", "1", "1", "1", "1", "1.0"}, fail(`Ints: e "1.0" is not an integer`)},
		{[]string{"Ints", "0x10", "1", "1", "1", "1"}, fail(`Ints: a "0x10" is not an integer`)},
		{[]string{"Ints", "1_000", "1", "1", "1", "1"}, fail(`Ints: a "1_000" is not an integer`)},
		{[]string{"Ints", " 1", "1", "1", "1", "1"}, fail(`Ints: a " 1" is not an integer`)},
		{[]string{"Uints", "18446744073709551615", "255", "65535", "4294967295", "18446744073709551615"},
			ok("18446744073709551615 255 65535 4294967295 18446744073709551615")},
		{[]string{"Uints", "-1", "1", "1", "1", "1"}, fail(`Uints: a "-1" is not an integer from 0 to 18446744073709551615`)},
		{[]string{"Uints", "1", "256", "1", "1", "1"}, fail(`Uints: b "256" is not an integer from 0 to 255`)},
		{[]string{"Uints", "1", "1", "65536", "1", "1"}, fail(`Uints: c "65536" is not an integer from 0 to 65535`)},
		{[]string{"Uints", "1", "1", "1", "4294967296", "1"}, fail(`Uints: d "4294967296" is not an integer from 0 to 4294967295`)},
		{[]string{"Named", "red", "-5", "raw"}, ok("red/-5/raw")},
		{[]string{"Named", "red", "40000", "raw"}, fail(`Named: argument 2 "40000" is not an integer from -32768 to 32767`)},
		{[]string{"JSON", `{"X":1,"Y":2}`, `{"X":3}`, `{"b":2,"a":1}`, `["x","y"]`, `{"k":[1,"two",null]}`},
			ok(`{"a":{"k":[1,"two",null]},"m":{"a":1,"b":2},"p":{"X":1,"Y":2},"q":{"X":3,"Y":0},"s":["x","y"]}`)},
		{[]string{"JSON", `{}`, `null`, `null`, `null`, `null`}, ok(`{"a":null,"m":null,"p":{"X":0,"Y":0},"q":null,"s":null}`)},
		{[]string{"JSON", `{"X":"one"}`, `{}`, `{}`, `[]`, `1`},
			fail(`JSON: argument 1 is not valid JSON for contract_test.point: json: cannot unmarshal string into Go struct field point.X of type int`)},
		{[]string{"JSON", `{}`, `{`, `{}`, `[]`, `1`},
			fail(`JSON: argument 2 is not valid JSON for *contract_test.point: unexpected end of JSON input`)},
		{[]string{"Nothing"}, ok("")},
		{[]string{"Fail", "false"}, ok("")},
		{[]string{"Fail", "true"}, fail("it failed")},
		{[]string{"FailValue"}, fail("no value")},
		{[]string{"Panic", "oops"}, fail("Panic panicked: oops")},
		{[]string{"NilPointer"}, ok("null")},
		{[]string{"Struct"}, ok(`{"X":1,"Y":2}`)},
		{[]string{"Raw"}, ok(`{"b":1,"a":2}`)},
		{[]string{"Map"}, ok(`{"a":2,"m":3,"z":1}`)},
		{[]string{"NaN"}, fail("NaN: encoding the result: json: unsupported value: NaN")},
		{[]string{"Str"}, fail("Str takes 1 argument; got 0")},
		{[]string{"Nothing", "x"}, fail("Nothing takes no arguments; got 1")},
		{[]string{"Ints", "1"}, fail("Ints takes 5 arguments (a, b, c, d, e); got 1")},
		{[]string{"Float", "1"}, fail("Float takes 2 arguments; got 1")},
		{[]string{"conv:Str", "prefixed"}, ok("prefixed")},
		{[]string{"a:b:Str", "prefixed"}, ok("prefixed")},
		{[]string{"str", "x"}, fail(`unknown function "str"; the contract has Ints, Uints, Bool, Bytes, Fail, FailValue, Float, JSON, Map, NaN, Named, NilPointer, Nothing, Panic, Raw, Str, Struct and TxID`)},
		{[]string{"conv:"}, fail(`no function given; the contract has Ints, Uints, Bool, Bytes, Fail, FailValue, Float, JSON, Map, NaN, Named, NilPointer, Nothing, Panic, Raw, Str, Struct and TxID`)},
		{nil, fail(`no function given; the contract has Ints, Uints, Bool, Bytes, Fail, FailValue, Float, JSON, Map, NaN, Named, NilPointer, Nothing, Panic, Raw, Str, Struct and TxID`)},
	} {
		got := invoke(t, r, tc.args...)
		if got.Status != tc.want.Status || got.Message != tc.want.Message || string(got.Payload) != string(tc.want.Payload) {
			t.Errorf("%q:\n got %d %q %q\nwant %d %q %q", tc.args, got.Status, got.Message, got.Payload, tc.want.Status, tc.want.Message, tc.want.Payload)
		}
	}
	// Long arguments are cut in messages.
	long := strings.Repeat("9", 300)
	got := invoke(t, r, "Bool", long)
	if want := fmt.Sprintf(`Bool: argument 1 "%s"... is not a boolean (true or false)`, long[:100]); got.Message != want {
		t.Errorf("long argument: %q", got.Message)
	}
	// The context carries the stub.
	if got := invoke(t, r, "TxID"); len(got.Payload) != 64 {
		t.Errorf("TxID returned %q", got.Payload)
	}
}

// A []byte argument is the contract's own copy.
type keeper struct{}

func (keeper) Keep(ctx contract.Context, b []byte) string {
	arg := ctx.GetStub().GetArgs()[1]
	b[0] = 'X'
	return string(arg)
}

func TestRouterCopiesBytes(t *testing.T) {
	r, err := contract.NewRouter(keeper{})
	if err != nil {
		t.Fatal(err)
	}
	if got := invoke(t, r, "Keep", "abc"); string(got.Payload) != "abc" {
		t.Errorf("payload %q", got.Payload)
	}
}

func TestRouterNames(t *testing.T) {
	r, err := contract.NewRouter(&conv{}, contract.Name("conversions"), contract.Params("Str", "s"), contract.Params("Nothing"))
	if err != nil {
		t.Fatal(err)
	}
	fns := r.Functions()
	if want := []string{"Str", "Nothing", "Bool", "Bytes"}; !slices.Equal(fns[:4], want) {
		t.Errorf("Functions() = %q...", fns[:4])
	}
	if !slices.IsSorted(fns[2:]) {
		t.Errorf("the functions without Params are not in alphabetical order: %q", fns[2:])
	}
	got := invoke(t, r, "X")
	if !strings.HasPrefix(got.Message, `unknown function "X"; the conversions contract has Str, Nothing, Bool, Bytes, `) {
		t.Errorf("message %q", got.Message)
	}
	if got := invoke(t, r, "Str"); got.Message != "Str takes 1 argument (s); got 0" {
		t.Errorf("message %q", got.Message)
	}
}

// Contracts that NewRouter refuses.
type (
	noMethods  struct{}
	noContext  struct{}
	variadic   struct{}
	threeOut   struct{}
	secondOut  struct{}
	chanParam  struct{}
	funcResult struct{}
	ifaceParam struct{}
	complexArg struct{}
	ctxLater   struct{}
)

func (noContext) Helper(s string) string                  { return s }
func (variadic) V(ctx contract.Context, s ...string)      {}
func (threeOut) T(ctx contract.Context) (int, int, error) { return 0, 0, nil }
func (secondOut) S(ctx contract.Context) (int, string)    { return 0, "" }
func (chanParam) C(ctx contract.Context, c chan int)      {}
func (funcResult) F(ctx contract.Context) func()          { return nil }
func (ifaceParam) I(ctx contract.Context, s fmt.Stringer) {}
func (complexArg) X(ctx contract.Context, c complex128)   {}
func (ctxLater) L(s string, ctx contract.Context)         {}

type oneFunc struct{}

func (oneFunc) Do(ctx contract.Context, a, b string) {}

func TestNewRouterErrors(t *testing.T) {
	for _, tc := range []struct {
		c    any
		opts []contract.Option
		want string
	}{
		{nil, nil, "contract: NewRouter: the contract is nil"},
		{noMethods{}, nil, "contract: NewRouter: contract_test.noMethods has no transaction functions (exported methods whose first parameter is a contract.Context)"},
		{noContext{}, nil, "contract: NewRouter: contract_test.noContext.Helper: an exported method must take a contract.Context as its first parameter; unexport it if it is not a transaction function"},
		{ctxLater{}, nil, "contract: NewRouter: contract_test.ctxLater.L: an exported method must take a contract.Context as its first parameter; unexport it if it is not a transaction function"},
		{variadic{}, nil, "contract: NewRouter: contract_test.variadic.V: a transaction function cannot be variadic"},
		{threeOut{}, nil, "contract: NewRouter: contract_test.threeOut.T: 3 results; a transaction function returns at most a value and an error"},
		{secondOut{}, nil, "contract: NewRouter: contract_test.secondOut.S: the second result must be an error, not string"},
		{chanParam{}, nil, "contract: NewRouter: contract_test.chanParam.C: parameter 1: type chan int is not supported"},
		{funcResult{}, nil, "contract: NewRouter: contract_test.funcResult.F: result: type func() is not supported"},
		{ifaceParam{}, nil, "contract: NewRouter: contract_test.ifaceParam.I: parameter 1: interface type fmt.Stringer is not supported: only interfaces without methods can hold JSON"},
		{complexArg{}, nil, "contract: NewRouter: contract_test.complexArg.X: parameter 1: type complex128 is not supported"},
		{oneFunc{}, []contract.Option{contract.Params("Undo")}, `contract: NewRouter: Params("Undo"): contract_test.oneFunc has no transaction function Undo`},
		{oneFunc{}, []contract.Option{contract.Params("Do", "a")}, `contract: NewRouter: Params("Do"): 1 names for 2 parameters`},
		{oneFunc{}, []contract.Option{contract.Params("Do", "a", "b"), contract.Params("Do", "a", "b")}, `contract: NewRouter: Params("Do") given twice`},
	} {
		_, err := contract.NewRouter(tc.c, tc.opts...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewRouter(%T): %v\nwant %s", tc.c, err, tc.want)
		}
	}
	// Pointer receivers count when the contract is a pointer.
	if _, err := contract.NewRouter(&oneFunc{}); err != nil {
		t.Error(err)
	}
}

func TestRegister(t *testing.T) {
	contract.ResetRegistered()
	t.Cleanup(contract.ResetRegistered)
	if contract.Registered() != nil {
		t.Fatal("registered before Register")
	}
	contract.Register(oneFunc{})
	if _, ok := contract.Registered().(*contract.Router); !ok {
		t.Errorf("Registered() = %T", contract.Registered())
	}
	mustPanic(t, "a second Register", func() { contract.Register(oneFunc{}) })
	contract.ResetRegistered()
	mustPanic(t, "Register of a bad contract", func() { contract.Register(noContext{}) })
	mustPanic(t, "RegisterHandler(nil)", func() { contract.RegisterHandler(nil) })
	if contract.Registered() != nil {
		t.Error("a failed Register registered something")
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{"": "", "Fn": "Fn", "C:Fn": "Fn", "a:b:Fn": "Fn", "C:": "", ":": ""} {
		if got := contract.FunctionName(in); got != want {
			t.Errorf("FunctionName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRouter invokes a router with arbitrary arguments: it never panics
// and answers every invocation the same way twice.
func FuzzRouter(f *testing.F) {
	r, err := contract.NewRouter(conv{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Ints", "1", "2", "3")
	f.Add("JSON", "{}", "null", "[1]")
	f.Add("Float", "1e308", "-0", "")
	f.Add("Bool", "T", "", "")
	f.Fuzz(func(t *testing.T, fn, a, b, c string) {
		for n := range 4 {
			args := []string{fn, a, b, c}[:n+1]
			x, y := invoke(t, r, args...), invoke(t, r, args...)
			if x.Status != y.Status || x.Message != y.Message || string(x.Payload) != string(y.Payload) {
				t.Fatalf("%q: %v then %v", args, x, y)
			}
		}
	})
}
