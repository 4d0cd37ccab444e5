package contract

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Handler runs invocations. A Router is a Handler; a contract that wants
// the low-level style of Fabric's shim (one Invoke that switches on the
// function name) implements Handler itself and registers it with
// RegisterHandler.
type Handler interface {
	Invoke(stub Stub) Response
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(stub Stub) Response

// Invoke returns f(stub).
func (f HandlerFunc) Invoke(stub Stub) Response { return f(stub) }

// Option configures a Router.
type Option func(*routerConfig)

type routerConfig struct {
	name     string
	params   []paramNames
	direct   []Tx
	noWarmup bool
}

type paramNames struct {
	function string
	names    []string
}

// Name names the contract in the router's messages: "unknown function
// "X"; the assets contract has ..." rather than "the contract has ...".
func Name(name string) Option {
	return func(c *routerConfig) { c.name = name }
}

// Params names the parameters of the transaction function function (the
// context excluded), for the router's messages: "CreateAsset takes 5
// arguments (id, color, size, owner, value); got 3" and "CreateAsset: size
// "big" is not an integer" rather than "... argument 3 ...". Functions
// named by Params options are listed first in messages, in the order of
// the options, and the others after them in alphabetical order. NewRouter
// fails if function is not a transaction function or the number of names
// is not its number of parameters.
func Params(function string, names ...string) Option {
	return func(c *routerConfig) {
		c.params = append(c.params, paramNames{function: function, names: names})
	}
}

// Router is a Handler that calls the methods of a contract value by name.
// NewRouter documents the rules. A Router is immutable and safe for
// concurrent use.
type Router struct {
	noWarmup bool
	name     string // "" or the contract's name
	funcs    []*function
	byName   map[string]*function // lookups only: never iterated
	list     string               // the function names, for messages
}

type function struct {
	name   string
	method reflect.Value // bound to the contract value
	params []param
	// frame is a struct with a field of each parameter's type: one
	// allocation holds the arguments of a reflective call.
	frame  reflect.Type
	names  bool // whether params have names given by Params
	result func(reflect.Value) ([]byte, error)
	hasErr bool
	// direct, when not nil, calls the function without reflection (Direct).
	direct caller
}

type param struct {
	label string // its name, or "argument N"
	typ   reflect.Type
	// set converts arg into dst, an addressable zero value of typ.
	set  func(dst reflect.Value, arg []byte) error
	fail string // what the argument is not, for messages: "an integer"
	text bool   // converted by UnmarshalText, whose error is the message
}

var (
	contextType         = reflect.TypeFor[Context]()
	errorType           = reflect.TypeFor[error]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// NewRouter returns a Router over the exported methods of c.
//
// Transaction functions are the exported methods whose first parameter
// is a Context. Every exported method of c must be one: an exported method
// without the context is an error, so that forgetting the context is not
// silently an unknown function (unexport helpers, or make them functions).
// A transaction function returns nothing, an error, a value, or a value and
// an error; it must not be variadic.
//
// Invoke takes the function name from the first argument, after the last
// ':' if any (Fabric's contract API addresses "Contract:Function"), checks
// the number of arguments and converts each one, a string of bytes, to its
// parameter's type:
//
//   - a type that implements encoding.TextUnmarshaler, itself or through
//     its pointer, converts itself (time.Time from RFC 3339, *big.Int from
//     decimal, or a contract's own type that validates its argument); its
//     error is the message, after the function name;
//
// and other types by kind:
//
//   - string kinds: the argument as is; []byte (any slice of a byte kind):
//     a copy of it;
//   - bool: strconv.ParseBool ("true", "false", "1", "0", ...);
//   - integer kinds: base 10 (strconv.ParseInt or ParseUint), checked
//     against the type's range;
//   - float32 and float64: strconv.ParseFloat, finite values only;
//   - anything else (structs, pointers, maps, slices, interfaces without
//     methods): JSON, with encoding/json.
//
// The result becomes the Response's payload: a string kind or a byte
// slice as is, not JSON-quoted (as Fabric's contract API returns strings),
// anything else as its encoding/json encoding (an int 5 is "5", a bool
// "true", a struct an object). A function without a result, or returning
// only an error, has an empty payload. A non-nil error is a 500 Response
// whose message is the error's text; so is a panic, with the panic's text.
// Everything the router writes is deterministic: messages list functions
// in a fixed order and encoding/json sorts map keys.
func NewRouter(c any, opts ...Option) (*Router, error) {
	var cfg routerConfig
	for _, o := range opts {
		o(&cfg)
	}
	if c == nil {
		return nil, errors.New("contract: NewRouter: the contract is nil")
	}
	v := reflect.ValueOf(c)
	t := v.Type()
	r := &Router{name: cfg.name, byName: make(map[string]*function), noWarmup: cfg.noWarmup}
	var all []*function // alphabetical, as reflect orders methods
	for i := range t.NumMethod() {
		m := t.Method(i)
		f, err := newFunction(m.Name, v.Method(i).Type(), v.Method(i))
		if err != nil {
			return nil, fmt.Errorf("contract: NewRouter: %s.%s: %w", t, m.Name, err)
		}
		all = append(all, f)
		r.byName[f.name] = f
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("contract: NewRouter: %s has no transaction functions (exported methods whose first parameter is a contract.Context)", t)
	}
	listed := make(map[string]bool)
	for _, p := range cfg.params {
		f := r.byName[p.function]
		switch {
		case f == nil:
			return nil, fmt.Errorf("contract: NewRouter: Params(%q): %s has no transaction function %s", p.function, t, p.function)
		case listed[p.function]:
			return nil, fmt.Errorf("contract: NewRouter: Params(%q) given twice", p.function)
		case len(p.names) != len(f.params):
			return nil, fmt.Errorf("contract: NewRouter: Params(%q): %d names for %d parameters", p.function, len(p.names), len(f.params))
		}
		for i, name := range p.names {
			f.params[i].label = name
		}
		f.names = true
		listed[p.function] = true
		r.funcs = append(r.funcs, f)
	}
	for _, f := range all {
		if !listed[f.name] {
			r.funcs = append(r.funcs, f)
		}
	}
	for _, tx := range cfg.direct {
		if err := r.bindDirect(tx, v); err != nil {
			return nil, fmt.Errorf("contract: NewRouter: Direct: %w", err)
		}
	}
	names := make([]string, len(r.funcs))
	for i, f := range r.funcs {
		names[i] = f.name
	}
	r.list = joinAnd(names)
	return r, nil
}

func newFunction(name string, ft reflect.Type, method reflect.Value) (*function, error) {
	if ft.NumIn() == 0 || ft.In(0) != contextType {
		return nil, errors.New("an exported method must take a contract.Context as its first parameter; unexport it if it is not a transaction function")
	}
	if ft.IsVariadic() {
		return nil, errors.New("a transaction function cannot be variadic")
	}
	f := &function{name: name, method: method}
	var fields []reflect.StructField
	for i := 1; i < ft.NumIn(); i++ {
		p, err := newParam(ft.In(i))
		if err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i, err)
		}
		p.label = "argument " + strconv.Itoa(i)
		f.params = append(f.params, p)
		fields = append(fields, reflect.StructField{Name: "P" + strconv.Itoa(i), Type: p.typ})
	}
	f.frame = reflect.StructOf(fields)
	switch ft.NumOut() {
	case 0:
	case 1:
		if ft.Out(0) == errorType {
			f.hasErr = true
			break
		}
		enc, err := resultEncoder(ft.Out(0))
		if err != nil {
			return nil, err
		}
		f.result = enc
	case 2:
		if ft.Out(1) != errorType {
			return nil, fmt.Errorf("the second result must be an error, not %s", ft.Out(1))
		}
		enc, err := resultEncoder(ft.Out(0))
		if err != nil {
			return nil, err
		}
		f.result, f.hasErr = enc, true
	default:
		return nil, fmt.Errorf("%d results; a transaction function returns at most a value and an error", ft.NumOut())
	}
	return f, nil
}

func unsupported(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Complex64, reflect.Complex128, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Uintptr:
		return fmt.Errorf("type %s is not supported", t)
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return fmt.Errorf("interface type %s is not supported: only interfaces without methods can hold JSON", t)
		}
	}
	return nil
}

func newParam(t reflect.Type) (param, error) {
	switch {
	case t.Kind() == reflect.Pointer && t.Implements(textUnmarshalerType):
		return param{typ: t, text: true, set: func(dst reflect.Value, arg []byte) error {
			p := reflect.New(t.Elem())
			if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText(arg); err != nil {
				return err
			}
			dst.Set(p)
			return nil
		}}, nil
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return param{typ: t, text: true, set: func(dst reflect.Value, arg []byte) error {
			return dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText(arg)
		}}, nil
	}
	if err := unsupported(t); err != nil {
		return param{}, err
	}
	switch k := t.Kind(); {
	case k == reflect.String:
		return param{typ: t, set: func(dst reflect.Value, arg []byte) error {
			dst.SetString(string(arg))
			return nil
		}}, nil
	case k == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return param{typ: t, set: func(dst reflect.Value, arg []byte) error {
			dst.SetBytes(append([]byte{}, arg...))
			return nil
		}}, nil
	case k == reflect.Bool:
		return param{typ: t, fail: "a boolean (true or false)", set: func(dst reflect.Value, arg []byte) error {
			b, err := strconv.ParseBool(string(arg))
			if err == nil {
				dst.SetBool(b)
			}
			return err
		}}, nil
	case k >= reflect.Int && k <= reflect.Int64:
		bits := t.Bits()
		fail := "an integer"
		if bits < 64 {
			fail = fmt.Sprintf("an integer from %d to %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		}
		return param{typ: t, fail: fail, set: func(dst reflect.Value, arg []byte) error {
			n, err := strconv.ParseInt(string(arg), 10, bits)
			if err == nil {
				dst.SetInt(n)
			}
			return err
		}}, nil
	case k >= reflect.Uint && k <= reflect.Uint64:
		bits := t.Bits()
		fail := fmt.Sprintf("an integer from 0 to %d", uint64(math.MaxUint64)>>(64-bits))
		return param{typ: t, fail: fail, set: func(dst reflect.Value, arg []byte) error {
			n, err := strconv.ParseUint(string(arg), 10, bits)
			if err == nil {
				dst.SetUint(n)
			}
			return err
		}}, nil
	case k == reflect.Float32 || k == reflect.Float64:
		bits := t.Bits()
		return param{typ: t, fail: "a finite number", set: func(dst reflect.Value, arg []byte) error {
			x, err := parseFinite(arg, bits)
			if err == nil {
				dst.SetFloat(x)
			}
			return err
		}}, nil
	default:
		return param{typ: t, set: func(dst reflect.Value, arg []byte) error {
			if err := json.Unmarshal(arg, dst.Addr().Interface()); err != nil {
				return fmt.Errorf("not valid JSON for %s: %w", t, err)
			}
			return nil
		}}, nil
	}
}

// parseFinite parses a finite float of bits bits.
func parseFinite(arg []byte, bits int) (float64, error) {
	x, err := strconv.ParseFloat(string(arg), bits)
	switch {
	case err != nil:
		return 0, err
	case math.IsNaN(x) || math.IsInf(x, 0):
		return 0, errors.New("not finite")
	}
	return x, nil
}

func resultEncoder(t reflect.Type) (func(reflect.Value) ([]byte, error), error) {
	if err := unsupported(t); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	switch {
	case t.Kind() == reflect.String:
		return func(v reflect.Value) ([]byte, error) { return []byte(v.String()), nil }, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return func(v reflect.Value) ([]byte, error) { return v.Bytes(), nil }, nil
	default:
		return func(v reflect.Value) ([]byte, error) { return json.Marshal(v.Interface()) }, nil
	}
}

// Functions returns the names of the transaction functions, in the order
// messages list them.
func (r *Router) Functions() []string {
	names := make([]string, len(r.funcs))
	for i, f := range r.funcs {
		names[i] = f.name
	}
	return names
}

// FunctionName returns the function that the first argument arg0 of an
// invocation names: arg0 after its last ':', if any.
func FunctionName(arg0 string) string { return afterLastColon(arg0) }

func afterLastColon[T string | []byte](s T) T {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[i+1:]
		}
	}
	return s
}

// Invoke calls the transaction function that stub's first argument names,
// as NewRouter describes.
func (r *Router) Invoke(stub Stub) (resp Response) {
	args := stub.GetArgs()
	var fn []byte // the function name, after any "Contract:" prefix
	if len(args) > 0 {
		fn = afterLastColon(args[0])
		args = args[1:]
	}
	if len(fn) == 0 {
		return Error("no function given; " + r.has())
	}
	f := r.byName[string(fn)] // no copy of the name for the lookup
	if f == nil {
		return Error(fmt.Sprintf("unknown function %q; %s", fn, r.has()))
	}
	if len(args) != len(f.params) {
		return Error(f.countError(len(args)))
	}
	defer func() {
		if v := recover(); v != nil {
			resp = Error(fmt.Sprintf("%s panicked: %v", f.name, v))
		}
	}()
	in := &invocation{f: f, args: args}
	var payload []byte
	var err error
	if f.direct != nil {
		payload, err = f.direct(NewContext(stub), in)
	} else {
		payload, err = f.callReflect(NewContext(stub), in)
	}
	if err != nil {
		return Error(err.Error())
	}
	return Success(payload)
}

// invocation is the arguments of one call of f, converted one by one into
// the function's parameters; after the first that does not convert, err
// holds the message and the others are not converted.
type invocation struct {
	f    *function
	args [][]byte
	err  error
}

// convert converts argument i into dst, an addressable zero value of the
// parameter's type.
func (in *invocation) convert(i int, dst reflect.Value) {
	if in.err != nil {
		return
	}
	if err := in.f.params[i].set(dst, in.args[i]); err != nil {
		in.fail(i, err)
	}
}

// fail records that argument i did not convert: err is the conversion's.
func (in *invocation) fail(i int, err error) {
	p, arg := in.f.params[i], in.args[i]
	switch {
	case p.text:
		in.err = fmt.Errorf("%s: %v", in.f.name, err)
	case p.fail != "":
		in.err = fmt.Errorf("%s: %s %s is not %s", in.f.name, p.label, quoteArg(arg), p.fail)
	default:
		in.err = fmt.Errorf("%s: %s is %v", in.f.name, p.label, err)
	}
}

// encode returns the payload of result v.
func (in *invocation) encode(v reflect.Value) ([]byte, error) {
	payload, err := in.f.result(v)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the result: %v", in.f.name, err)
	}
	return payload, nil
}

// callReflect converts the arguments into one frame and calls the method
// through reflect.Value.Call.
func (f *function) callReflect(ctx Context, in *invocation) ([]byte, error) {
	vals := make([]reflect.Value, 1+len(in.args))
	// A Value of the interface type itself: Call then assigns it without
	// checking, method by method, that the dynamic type implements it.
	vals[0] = reflect.ValueOf(&ctx).Elem()
	if len(in.args) > 0 {
		frame := reflect.New(f.frame).Elem()
		for i := range in.args {
			vals[i+1] = frame.Field(i)
			in.convert(i, vals[i+1])
		}
		if in.err != nil {
			return nil, in.err
		}
	}
	out := f.method.Call(vals)
	if f.hasErr {
		if err, _ := out[len(out)-1].Interface().(error); err != nil {
			return nil, err
		}
	}
	if f.result == nil {
		return nil, nil
	}
	return in.encode(out[0])
}

// has returns "the X contract has A, B and C".
func (r *Router) has() string {
	if r.name == "" {
		return "the contract has " + r.list
	}
	return "the " + r.name + " contract has " + r.list
}

func (f *function) countError(got int) string {
	var names string
	if f.names && len(f.params) > 0 {
		labels := make([]string, len(f.params))
		for i, p := range f.params {
			labels[i] = p.label
		}
		names = " (" + strings.Join(labels, ", ") + ")"
	}
	switch len(f.params) {
	case 0:
		return fmt.Sprintf("%s takes no arguments; got %d", f.name, got)
	case 1:
		return fmt.Sprintf("%s takes 1 argument%s; got %d", f.name, names, got)
	default:
		return fmt.Sprintf("%s takes %d arguments%s; got %d", f.name, len(f.params), names, got)
	}
}

// maxQuoted is the longest argument quoted whole in a message.
const maxQuoted = 100

func quoteArg(arg []byte) string {
	if len(arg) <= maxQuoted {
		return strconv.Quote(string(arg))
	}
	return strconv.Quote(string(arg[:maxQuoted])) + "..."
}

// joinAnd returns "A", "A and B", "A, B and C".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
