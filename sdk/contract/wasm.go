//go:build wasip1

package contract

import (
	"unsafe"

	"github.com/chorusledger/chorus/sdk/contract/abi"
)

// The exports of §1. //go:wasmexport works in any package, so a contract's
// package main only registers its contract and declares an empty main.

//go:wasmexport chorus_abi_version
func chorusABIVersion() int32 { return abi.Version }

//go:wasmexport chorus_invoke
func chorusInvoke() int32 { return serve(wasmHost{}, registered) }

// chorusWarmup is called once, after _initialize, before the host records
// the initial state (§6), so that invocations do not repeat the lazy
// set-up of the Go runtime and of the packages the contract uses. (A
// garbage collection here would make the state, and so every reset,
// larger: measured, it made CreateAsset slower.)
//
//go:wasmexport chorus_warmup
func chorusWarmup() int32 {
	if w, ok := registered.(Warmer); ok {
		w.Warmup()
	}
	return 0
}

// The host functions of §4, with their exact signatures: pointers and
// lengths are i32, results i64.

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
func hostGetState(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport chorus put_state
func hostPutState(keyPtr unsafe.Pointer, keyLen int32, valPtr unsafe.Pointer, valLen int32) int64

//go:wasmimport chorus del_state
func hostDelState(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport chorus range_open
func hostRangeOpen(startPtr unsafe.Pointer, startLen int32, endPtr unsafe.Pointer, endLen int32, flags int32) int64

//go:wasmimport chorus range_next
func hostRangeNext(id int32) int64

//go:wasmimport chorus history_open
func hostHistoryOpen(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport chorus history_next
func hostHistoryNext(id int32) int64

//go:wasmimport chorus iterator_close
func hostIteratorClose(id int32) int64

//go:wasmimport chorus set_event
func hostSetEvent(namePtr unsafe.Pointer, nameLen int32, payloadPtr unsafe.Pointer, payloadLen int32) int64

//go:wasmimport chorus invoke_contract
func hostInvokeContract(namePtr unsafe.Pointer, nameLen int32, argsPtr unsafe.Pointer, argsLen int32) int64

//go:wasmimport chorus set_response
func hostSetResponse(status int32, msgPtr unsafe.Pointer, msgLen int32, payloadPtr unsafe.Pointer, payloadLen int32) int64

// wasmHost calls the imports. Go's WebAssembly garbage collector does not
// move objects, and a pointer passed to an import keeps its object alive
// for the call, so slices and strings are passed in place.
type wasmHost struct{}

// bptr and sptr return where b and s begin; nil when they are empty, for
// which unsafe gives no guarantee.
func bptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

func sptr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

func (wasmHost) take(dst []byte) int64 { return hostTake(bptr(dst), int32(len(dst))) }
func (wasmHost) args() int64           { return hostArgs() }
func (wasmHost) txID() int64           { return hostTxID() }
func (wasmHost) txTimestamp() int64    { return hostTxTimestamp() }
func (wasmHost) channelID() int64      { return hostChannelID() }
func (wasmHost) creator() int64        { return hostCreator() }
func (wasmHost) creatorMSPID() int64   { return hostCreatorMSPID() }

func (wasmHost) getState(key string) int64 { return hostGetState(sptr(key), int32(len(key))) }

func (wasmHost) putState(key string, value []byte) int64 {
	return hostPutState(sptr(key), int32(len(key)), bptr(value), int32(len(value)))
}

func (wasmHost) delState(key string) int64 { return hostDelState(sptr(key), int32(len(key))) }

func (wasmHost) rangeOpen(start, end string, flags int32) int64 {
	return hostRangeOpen(sptr(start), int32(len(start)), sptr(end), int32(len(end)), flags)
}

func (wasmHost) rangeNext(id int32) int64     { return hostRangeNext(id) }
func (wasmHost) historyOpen(key string) int64 { return hostHistoryOpen(sptr(key), int32(len(key))) }
func (wasmHost) historyNext(id int32) int64   { return hostHistoryNext(id) }
func (wasmHost) iteratorClose(id int32) int64 { return hostIteratorClose(id) }

func (wasmHost) setEvent(name string, payload []byte) int64 {
	return hostSetEvent(sptr(name), int32(len(name)), bptr(payload), int32(len(payload)))
}

func (wasmHost) invokeContract(name string, args []byte) int64 {
	return hostInvokeContract(sptr(name), int32(len(name)), bptr(args), int32(len(args)))
}

func (wasmHost) setResponse(status int32, msg string, payload []byte) int64 {
	return hostSetResponse(status, sptr(msg), int32(len(msg)), bptr(payload), int32(len(payload)))
}
