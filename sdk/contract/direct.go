package contract

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
)

// A reflective call (reflect.Value.Call) and the reflective conversion of
// its arguments cost a contract compiled to WebAssembly about 15 µs, a
// quarter of the sample's CreateAsset, which reads one key and writes
// one. Direct lets a contract give the router callers made at compile
// time, from method expressions, for the functions whose cost matters;
// everything else about an invocation (the name lookup, the count check,
// each argument's conversion and its messages, the result's encoding,
// panics) is the router's, unchanged.

// Tx is a transaction function as a typed caller, made by one of the TxN
// functions (for a method that returns an error) or TxRN (a value and an
// error) from a method expression, and handed to the router by Direct.
type Tx struct {
	fn   reflect.Value // the method expression, to find its method
	bind func(recv reflect.Value) caller
}

// caller calls a transaction function with the invocation's arguments and
// returns its payload, or an error whose text is the 500 Response's
// message.
type caller func(ctx Context, in *invocation) ([]byte, error)

// Direct gives NewRouter typed callers for some of the contract's
// transaction functions, which it then calls without reflection:
//
//	contract.Register(Assets{},
//		contract.Params("CreateAsset", "id", "color", "size", "owner", "value"),
//		contract.Direct(
//			contract.Tx5(Assets.CreateAsset),
//			contract.TxR1(Assets.ReadAsset),
//		),
//	)
//
// Each Tx must be made from a method expression (Assets.CreateAsset, or
// (*Assets).CreateAsset when the contract is a *Assets) of one of the
// contract's transaction functions, each at most once; NewRouter fails
// otherwise. Invocations behave exactly as without Direct.
func Direct(txs ...Tx) Option {
	return func(c *routerConfig) { c.direct = append(c.direct, txs...) }
}

// bindDirect finds the transaction function that tx's method expression
// names and gives it tx's caller, bound to the contract value recv.
func (r *Router) bindDirect(tx Tx, recv reflect.Value) error {
	if !tx.fn.IsValid() || tx.fn.IsNil() {
		return errors.New("a nil function or a zero Tx")
	}
	t := recv.Type()
	pc := tx.fn.Pointer()
	for i := range t.NumMethod() {
		m := t.Method(i)
		if m.Func.Pointer() != pc {
			continue
		}
		if m.Func.Type() != tx.fn.Type() {
			return fmt.Errorf("%s has type %s; the contract's method is %s", funcName(pc), tx.fn.Type(), m.Func.Type())
		}
		f := r.byName[m.Name]
		if f.direct != nil {
			return fmt.Errorf("%s given twice", m.Name)
		}
		f.direct = tx.bind(recv)
		return nil
	}
	return fmt.Errorf("%s is not a method expression of a transaction function of %s", funcName(pc), t)
}

// funcName names the function at pc for messages.
func funcName(pc uintptr) string {
	if f := runtime.FuncForPC(pc); f != nil {
		return f.Name()
	}
	return "the function"
}

// arg converts argument i into a T, or records why it does not convert.
// The types that need no reflection convert without it, by the same rules.
func arg[T any](in *invocation, i int) T {
	var v T
	if in.err != nil {
		return v
	}
	if ok, err := convertPlain(&v, in.args[i]); ok {
		if err != nil {
			in.fail(i, err)
		}
		return v
	}
	in.convert(i, reflect.ValueOf(&v).Elem())
	return v
}

// convertPlain converts arg into *p when p points to a string, a byte
// slice, a bool, an integer or a float, or implements
// encoding.TextUnmarshaler, as newParam's rules say; ok is false for any
// other type.
func convertPlain(p any, arg []byte) (ok bool, err error) {
	switch p := p.(type) {
	case encoding.TextUnmarshaler:
		return true, p.UnmarshalText(arg)
	case *string:
		*p = string(arg)
	case *[]byte:
		*p = append([]byte{}, arg...)
	case *bool:
		*p, err = strconv.ParseBool(string(arg))
	case *int:
		var n int64
		n, err = strconv.ParseInt(string(arg), 10, strconv.IntSize)
		*p = int(n)
	case *int64:
		*p, err = strconv.ParseInt(string(arg), 10, 64)
	case *int32:
		var n int64
		n, err = strconv.ParseInt(string(arg), 10, 32)
		*p = int32(n)
	case *uint64:
		*p, err = strconv.ParseUint(string(arg), 10, 64)
	case *uint32:
		var n uint64
		n, err = strconv.ParseUint(string(arg), 10, 32)
		*p = uint32(n)
	case *float64:
		*p, err = parseFinite(arg, 64)
	default:
		return false, nil
	}
	return true, err
}

// result encodes the result r of a call that returned err.
func encodeResult[R any](in *invocation, r R, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return in.encode(reflect.ValueOf(&r).Elem())
}

// Tx0 makes the Tx of a method with no parameters after its Context that
// returns an error.
func Tx0[T any](fn func(T, Context) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			return nil, fn(self, ctx)
		}
	}}
}

// TxR0 makes the Tx of a method with no parameters after its Context that
// returns a value and an error.
func TxR0[T, R any](fn func(T, Context) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			r, err := fn(self, ctx)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx1 makes the Tx of a method with one parameter after its Context that
// returns an error.
func Tx1[T, A any](fn func(T, Context, A) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0 := arg[A](in, 0)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0)
		}
	}}
}

// TxR1 makes the Tx of a method with one parameter after its Context that
// returns a value and an error.
func TxR1[T, A, R any](fn func(T, Context, A) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0 := arg[A](in, 0)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx2 makes the Tx of a method with 2 parameters after its Context that
// returns an error.
func Tx2[T, A, B any](fn func(T, Context, A, B) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1 := arg[A](in, 0), arg[B](in, 1)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0, a1)
		}
	}}
}

// TxR2 makes the Tx of a method with 2 parameters after its Context that
// returns a value and an error.
func TxR2[T, A, B, R any](fn func(T, Context, A, B) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1 := arg[A](in, 0), arg[B](in, 1)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0, a1)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx3 makes the Tx of a method with 3 parameters after its Context that
// returns an error.
func Tx3[T, A, B, C any](fn func(T, Context, A, B, C) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0, a1, a2)
		}
	}}
}

// TxR3 makes the Tx of a method with 3 parameters after its Context that
// returns a value and an error.
func TxR3[T, A, B, C, R any](fn func(T, Context, A, B, C) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0, a1, a2)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx4 makes the Tx of a method with 4 parameters after its Context that
// returns an error.
func Tx4[T, A, B, C, D any](fn func(T, Context, A, B, C, D) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0, a1, a2, a3)
		}
	}}
}

// TxR4 makes the Tx of a method with 4 parameters after its Context that
// returns a value and an error.
func TxR4[T, A, B, C, D, R any](fn func(T, Context, A, B, C, D) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0, a1, a2, a3)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx5 makes the Tx of a method with 5 parameters after its Context that
// returns an error.
func Tx5[T, A, B, C, D, E any](fn func(T, Context, A, B, C, D, E) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3, a4 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3), arg[E](in, 4)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0, a1, a2, a3, a4)
		}
	}}
}

// TxR5 makes the Tx of a method with 5 parameters after its Context that
// returns a value and an error.
func TxR5[T, A, B, C, D, E, R any](fn func(T, Context, A, B, C, D, E) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3, a4 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3), arg[E](in, 4)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0, a1, a2, a3, a4)
			return encodeResult(in, r, err)
		}
	}}
}

// Tx6 makes the Tx of a method with 6 parameters after its Context that
// returns an error.
func Tx6[T, A, B, C, D, E, F any](fn func(T, Context, A, B, C, D, E, F) error) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3, a4, a5 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3), arg[E](in, 4), arg[F](in, 5)
			if in.err != nil {
				return nil, in.err
			}
			return nil, fn(self, ctx, a0, a1, a2, a3, a4, a5)
		}
	}}
}

// TxR6 makes the Tx of a method with 6 parameters after its Context that
// returns a value and an error.
func TxR6[T, A, B, C, D, E, F, R any](fn func(T, Context, A, B, C, D, E, F) (R, error)) Tx {
	return Tx{fn: reflect.ValueOf(fn), bind: func(recv reflect.Value) caller {
		self := recv.Interface().(T)
		return func(ctx Context, in *invocation) ([]byte, error) {
			a0, a1, a2, a3, a4, a5 := arg[A](in, 0), arg[B](in, 1), arg[C](in, 2), arg[D](in, 3), arg[E](in, 4), arg[F](in, 5)
			if in.err != nil {
				return nil, in.err
			}
			r, err := fn(self, ctx, a0, a1, a2, a3, a4, a5)
			return encodeResult(in, r, err)
		}
	}}
}
