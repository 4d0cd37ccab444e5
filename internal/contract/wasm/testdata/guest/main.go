// Command guest is the test contract of package wasm: a WebAssembly
// reactor that implements the Chorus contract ABI version 1 directly, with
// no SDK, and exposes one behaviour per function name (args[0]) so that a
// single module exercises every host function, the reset of pooled
// instances and the limits.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o guest.wasm .
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

func main() {}

//go:wasmimport chorus abi_version
func hostABIVersion() int32

//go:wasmimport chorus take
func hostTake(ptr unsafe.Pointer, n int32) int64

//go:wasmimport chorus args
func hostArgs() int64

//go:wasmimport chorus tx_id
func hostTxID() int64

//go:wasmimport chorus tx_timestamp
func hostTxTimestamp() int64

//go:wasmimport chorus channel_id
func hostChannelID() int64

//go:wasmimport chorus creator
func hostCreator() int64

//go:wasmimport chorus creator_msp_id
func hostCreatorMSPID() int64

//go:wasmimport chorus get_state
func hostGetState(key string) int64

//go:wasmimport chorus put_state
func hostPutState(key string, val unsafe.Pointer, n int32) int64

//go:wasmimport chorus del_state
func hostDelState(key string) int64

//go:wasmimport chorus range_open
func hostRangeOpen(start, end string, flags int32) int64

//go:wasmimport chorus range_next
func hostRangeNext(id int32) int64

//go:wasmimport chorus history_open
func hostHistoryOpen(key string) int64

//go:wasmimport chorus history_next
func hostHistoryNext(id int32) int64

//go:wasmimport chorus iterator_close
func hostIteratorClose(id int32) int64

//go:wasmimport chorus set_event
func hostSetEvent(name string, payload unsafe.Pointer, n int32) int64

//go:wasmimport chorus invoke_contract
func hostInvokeContract(name string, args unsafe.Pointer, n int32) int64

//go:wasmimport chorus log
func hostLog(level int32, msg string) int64

//go:wasmimport chorus set_response
func hostSetResponse(status int32, msg string, payload unsafe.Pointer, n int32) int64

//go:wasmimport chorus get_state
func hostGetStateRaw(ptr, n int32) int64

// hostError is a failure reported by a host function.
type hostError string

func (e hostError) Error() string { return string(e) }

// errAbsent is the -1 result.
var errAbsent = hostError("absent")

// result turns a host function's return value into bytes or an error.
func result(r int64) ([]byte, error) {
	switch {
	case r == -1:
		return nil, errAbsent
	case r <= -2:
		msg := make([]byte, -r-2)
		if len(msg) > 0 {
			hostTake(unsafe.Pointer(&msg[0]), int32(len(msg)))
		}
		return nil, hostError(msg)
	case r == 0:
		return []byte{}, nil
	}
	b := make([]byte, r)
	if t := hostTake(unsafe.Pointer(&b[0]), int32(r)); t != 0 {
		panic(fmt.Sprintf("take returned %d", t))
	}
	return b, nil
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func respond(status int32, msg string, payload []byte) {
	if r := hostSetResponse(status, msg, ptr(payload), int32(len(payload))); r != 0 {
		panic("set_response failed")
	}
}

func ok(payload []byte) int32 { respond(200, "", payload); return 0 }

func fail(err error) int32 { respond(500, err.Error(), nil); return 0 }

type reader struct{ b []byte }

func (r *reader) u32() uint32 {
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.u32()
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func encodeList(items []string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(items)))
	for _, it := range items {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it)))
		b = append(b, it...)
	}
	return b
}

// counter proves the reset of globals and memory: it is 1 after every
// increment on a reset instance.
var counter int

// keep holds allocations so that the collector cannot free them.
var keep [][]byte

// warmups counts the calls of chorus_warmup: the host calls it once,
// before it records the initial state, so every invocation sees 1.
var warmups int

//go:wasmexport chorus_abi_version
func chorusABIVersion() int32 { return 1 }

//go:wasmexport chorus_warmup
func chorusWarmup() int32 {
	warmups++
	return 0
}

//go:wasmexport chorus_invoke
func chorusInvoke() int32 {
	raw, err := result(hostArgs())
	if err != nil {
		return fail(err)
	}
	r := &reader{b: raw}
	n := r.u32()
	var args []string
	for range n {
		args = append(args, string(r.bytes()))
	}
	if len(args) == 0 {
		return fail(hostError("no function"))
	}
	fn, args := args[0], args[1:]
	switch fn {
	case "echo":
		return ok(raw)
	case "get":
		v, err := result(hostGetState(args[0]))
		if err == errAbsent {
			respond(404, "absent", nil)
			return 0
		}
		if err != nil {
			return fail(err)
		}
		return ok(v)
	case "put":
		v := []byte(args[1])
		if _, err := result(hostPutState(args[0], ptr(v), int32(len(v)))); err != nil {
			return fail(err)
		}
		return ok(nil)
	case "putn":
		n, _ := strconv.Atoi(args[1])
		for i := range n {
			v := []byte(args[2])
			if _, err := result(hostPutState(fmt.Sprintf("%s%03d", args[0], i), ptr(v), int32(len(v)))); err != nil {
				return fail(err)
			}
		}
		return ok(nil)
	case "del":
		if _, err := result(hostDelState(args[0])); err != nil {
			return fail(err)
		}
		return ok(nil)
	case "getput":
		old, err := result(hostGetState(args[0]))
		if err != nil && err != errAbsent {
			return fail(err)
		}
		v := []byte(args[1])
		if _, err := result(hostPutState(args[0], ptr(v), int32(len(v)))); err != nil {
			return fail(err)
		}
		return ok(old)
	case "range":
		flags, _ := strconv.Atoi(args[2])
		return rangeQuery(args[0], args[1], int32(flags))
	case "partial":
		start := "\x00" + strings.Join(args, "\x00") + "\x00"
		return rangeQuery(start, start+"\U0010FFFF", 1)
	case "history":
		return history(args[0])
	case "event":
		p := []byte(args[1])
		if _, err := result(hostSetEvent(args[0], ptr(p), int32(len(p)))); err != nil {
			return fail(err)
		}
		return ok(nil)
	case "invoke":
		l := encodeList(args[1:])
		b, err := result(hostInvokeContract(args[0], ptr(l), int32(len(l))))
		if err != nil {
			return fail(err)
		}
		status := int32(binary.LittleEndian.Uint32(b))
		rr := &reader{b: b[4:]}
		msg, payload := rr.bytes(), rr.bytes()
		return ok([]byte(fmt.Sprintf("%d|%s|%s", status, msg, payload)))
	case "txinfo":
		var lines []string
		for _, f := range []func() int64{hostTxID, hostChannelID, hostCreatorMSPID, hostCreator} {
			b, err := result(f())
			if err != nil {
				return fail(err)
			}
			lines = append(lines, string(b))
		}
		lines = append(lines, strconv.FormatInt(hostTxTimestamp(), 10), strconv.Itoa(int(hostABIVersion())))
		return ok([]byte(strings.Join(lines, "\n")))
	case "world":
		var rb [8]byte
		rand.Read(rb[:])
		s := fmt.Sprintf("%s %d %s %d", time.Now().UTC().Format(time.RFC3339Nano), time.Since(time.Unix(0, 0)).Nanoseconds(),
			hex.EncodeToString(rb[:]), mrand.IntN(1000000))
		return ok([]byte(s))
	case "counter":
		counter++
		return ok([]byte(strconv.Itoa(counter)))
	case "warmups":
		return ok([]byte(strconv.Itoa(warmups)))
	case "spin":
		n, _ := strconv.Atoi(args[0])
		x := 0
		for i := range n {
			x += i
		}
		return ok([]byte(strconv.Itoa(x % 10)))
	case "mapiter":
		m := make(map[string]int)
		for i := range 50 {
			m["k"+strconv.Itoa(i)] = i
		}
		var order []string
		for k := range m {
			order = append(order, k)
		}
		return ok([]byte(strings.Join(order, ",")))
	case "loop":
		i := 0
		for {
			i++
			if i < 0 {
				break
			}
		}
		return ok(nil)
	case "alloc":
		for {
			b := make([]byte, 1<<20)
			b[len(b)-1] = 1
			keep = append(keep, b)
		}
	case "grow":
		mib, _ := strconv.Atoi(args[0])
		b := make([]byte, mib<<20)
		b[len(b)-1] = 1
		keep = append(keep, b)
		keep = nil
		return ok(nil)
	case "panic":
		panic("boom")
	case "trap":
		p := (*byte)(unsafe.Pointer(uintptr(0xFFFFFFF0)))
		*p = 1
		return ok(nil)
	case "exit":
		code, _ := strconv.Atoi(args[0])
		os.Exit(code)
	case "noresponse":
		return 0
	case "nonzero":
		respond(200, "", nil)
		return 7
	case "twice":
		respond(200, "", nil)
		if r := hostSetResponse(200, "", nil, 0); r >= 0 {
			return fail(hostError("second set_response succeeded"))
		}
		return 0
	case "log":
		n, _ := strconv.Atoi(args[0])
		for i := range n {
			hostLog(1, "line "+strconv.Itoa(i))
		}
		fmt.Println("hello from stdout")
		fmt.Fprintln(os.Stderr, "hello from stderr")
		return ok(nil)
	case "iters":
		n, _ := strconv.Atoi(args[0])
		for i := range n {
			if _, err := hostRangeOpenID("a", "b", 0); err != nil {
				return fail(hostError(fmt.Sprintf("iterator %d: %v", i, err)))
			}
		}
		return ok(nil)
	case "badptr":
		_, err := result(hostGetStateRaw(-16, 100))
		return fail(err)
	case "badtake":
		r := hostGetState(args[0])
		if r <= 0 {
			return fail(hostError("no value"))
		}
		b := make([]byte, r+1)
		_, err := result(hostTake(ptr(b), int32(len(b))))
		return fail(err)
	}
	respond(400, "unknown function "+fn, nil)
	return 0
}

func rangeQuery(start, end string, flags int32) int32 {
	id, err := hostRangeOpenID(start, end, flags)
	if err != nil {
		return fail(err)
	}
	var out []byte
	for {
		b, err := result(hostRangeNext(id))
		if err == errAbsent {
			break
		}
		if err != nil {
			return fail(err)
		}
		r := &reader{b: b}
		n := r.u32()
		out = fmt.Appendf(out, "[%d]", n)
		for range n {
			k, v := r.bytes(), r.bytes()
			out = fmt.Appendf(out, "%q=%s;", k, v)
		}
	}
	if _, err := result(hostIteratorClose(id)); err != nil {
		return fail(err)
	}
	return ok(out)
}

func hostRangeOpenID(start, end string, flags int32) (int32, error) {
	r := hostRangeOpen(start, end, flags)
	if r < 0 {
		_, err := result(r)
		return 0, err
	}
	return int32(r), nil
}

func history(key string) int32 {
	r := hostHistoryOpen(key)
	if r < 0 {
		_, err := result(r)
		return fail(err)
	}
	id := int32(r)
	var out []byte
	for {
		b, err := result(hostHistoryNext(id))
		if err == errAbsent {
			break
		}
		if err != nil {
			return fail(err)
		}
		rd := &reader{b: b}
		n := rd.u32()
		for range n {
			tx := rd.bytes()
			sec := int64(binary.LittleEndian.Uint64(rd.b))
			nanos := int32(binary.LittleEndian.Uint32(rd.b[8:]))
			del := rd.b[12]
			rd.b = rd.b[13:]
			v := rd.bytes()
			out = fmt.Appendf(out, "%s|%d|%d|%d|%s\n", tx, sec, nanos, del, v)
		}
	}
	hostIteratorClose(id)
	return ok(out)
}
