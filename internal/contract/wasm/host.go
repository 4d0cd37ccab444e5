package wasm

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/chorusledger/chorus/internal/compositekey"
	"github.com/chorusledger/chorus/internal/contract"
)

// Limits of the host functions (spec §4, §7).
const (
	// MaxKeyBytes is the largest key a contract may pass.
	MaxKeyBytes = 64 << 10
	// MaxValueBytes is the largest value a contract may write, and the
	// largest payload it may pass to set_event, invoke_contract or
	// set_response.
	MaxValueBytes = 16 << 20
	// MaxIterators is the largest number of iterators a contract may have
	// open at once in one invocation.
	MaxIterators = 64
	// BatchSize is the number of entries in a full range or history batch.
	BatchSize = 100
	// MaxLogLines is the number of log lines an invocation may write with
	// the log host function; later lines are dropped.
	MaxLogLines = 100
	// MaxLogLineBytes is the length at which a log line is cut.
	MaxLogLineBytes = 4 << 10
)

// Results of host functions besides lengths (spec §2).
const (
	resultNone   int64 = 0
	resultAbsent int64 = -1
)

// rangeFlagComposite is the range_open flag that allows bounds beginning
// with U+0000, for partial composite key queries.
const rangeFlagComposite = 1

// invocationKey is the context key under which a call of chorus_invoke
// carries its invocation to the host functions.
type invocationKey struct{}

// invocation is the host state of one invocation (spec §6 R5): created
// before chorus_invoke is called and dropped after it returns, reached by
// the host functions through the call's context, and used only by the
// goroutine running the invocation.
type invocation struct {
	stub   contract.Stub
	module *Module

	// pending is the pending result (spec §2), nil when there is none.
	pending []byte

	iterators []*iterator // open iterators
	nextID    int32       // the id of the next iterator opened

	response *contract.Response
	// violation, when not empty, is a breach of the ABI that fails the
	// invocation whatever chorus_invoke returns.
	violation string

	logLines int
}

// iterator is an open range or history iterator.
type iterator struct {
	id      int32
	state   contract.StateIterator   // for a range
	history contract.HistoryIterator // for a history
	done    bool
}

// produce makes b the pending result and returns its length; an empty b
// leaves nothing pending.
func (inv *invocation) produce(b []byte) int64 {
	if len(b) == 0 {
		inv.pending = nil
		return resultNone
	}
	inv.pending = b
	return int64(len(b))
}

// failure makes the message of a failed host call pending and returns the
// failure's code (spec §2: -len-2).
func (inv *invocation) failure(format string, args ...any) int64 {
	msg := fmt.Sprintf(format, args...)
	inv.pending = []byte(msg)
	return -int64(len(msg)) - 2
}

// absent clears the pending result and returns -1.
func (inv *invocation) absent() int64 {
	inv.pending = nil
	return resultAbsent
}

// done clears the pending result and returns 0.
func (inv *invocation) done() int64 {
	inv.pending = nil
	return resultNone
}

// closeIterators closes the iterators the contract left open.
func (inv *invocation) closeIterators() {
	for _, it := range inv.iterators {
		it.close()
	}
	inv.iterators = nil
}

func (it *iterator) close() {
	if it.state != nil {
		it.state.Close()
	}
	if it.history != nil {
		it.history.Close()
	}
}

// hostFunction is a function of the chorus import module.
type hostFunction struct {
	name string
	sig  funcType
	// fn runs the function for inv; p holds the arguments.
	fn func(inv *invocation, mem api.Memory, p []uint64) int64
}

// hostFunctions returns the functions of the chorus import module
// (spec §4).
func hostFunctions() []hostFunction {
	return []hostFunction{
		{"abi_version", sig(none, i32), hostABIVersion},
		{"take", sig(i32+i32, i64), hostTake},
		{"args", sig(none, i64), hostArgs},
		{"tx_id", sig(none, i64), hostTxID},
		{"tx_timestamp", sig(none, i64), hostTxTimestamp},
		{"channel_id", sig(none, i64), hostChannelID},
		{"creator", sig(none, i64), hostCreator},
		{"creator_msp_id", sig(none, i64), hostCreatorMSPID},
		{"get_state", sig(i32+i32, i64), hostGetState},
		{"put_state", sig(i32+i32+i32+i32, i64), hostPutState},
		{"del_state", sig(i32+i32, i64), hostDelState},
		{"range_open", sig(i32+i32+i32+i32+i32, i64), hostRangeOpen},
		{"range_next", sig(i32, i64), iteratorNext("range_next", false)},
		{"history_open", sig(i32+i32, i64), hostHistoryOpen},
		{"history_next", sig(i32, i64), iteratorNext("history_next", true)},
		{"iterator_close", sig(i32, i64), hostIteratorClose},
		{"set_event", sig(i32+i32+i32+i32, i64), hostSetEvent},
		{"invoke_contract", sig(i32+i32+i32+i32, i64), hostInvokeContract},
		{"log", sig(i32+i32+i32, i64), hostLog},
		{"set_response", sig(i32+i32+i32+i32+i32, i64), hostSetResponse},
	}
}

// goFunction adapts f to wazero: it finds the invocation in the call's
// context and the caller's memory. A host function called outside an
// invocation (from _initialize or chorus_abi_version) traps.
func (f hostFunction) goFunction() api.GoModuleFunc {
	i32Result := string(f.sig.results) == i32
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		inv, _ := ctx.Value(invocationKey{}).(*invocation)
		if inv == nil {
			panic(fmt.Errorf("wasm: the host function %s was called outside an invocation", f.name))
		}
		r := f.fn(inv, mod.Memory(), stack)
		if i32Result {
			stack[0] = api.EncodeI32(int32(r))
		} else {
			stack[0] = api.EncodeI64(r)
		}
	}
}

// read returns a view of the n bytes of guest memory at ptr, or false when
// they lie outside it. A zero length is always valid, whatever ptr.
func read(mem api.Memory, ptr, n uint64) ([]byte, bool) {
	if n == 0 {
		return []byte{}, true
	}
	return mem.Read(uint32(ptr), uint32(n))
}

// arg reads the (pointer, length) argument pair at params[i], params[i+1]
// as bytes, checking its length against limit. what names it in failures,
// as "get_state: the key".
func (inv *invocation) arg(mem api.Memory, params []uint64, i int, limit int, what string) ([]byte, string) {
	ptr, n := uint64(api.DecodeU32(params[i])), uint64(api.DecodeU32(params[i+1]))
	if n > uint64(limit) {
		return nil, fmt.Sprintf("%s has %d bytes, more than the limit of %s", what, n, formatBytes(uint64(limit)))
	}
	b, ok := read(mem, ptr, n)
	if !ok {
		return nil, fmt.Sprintf("%s (%d bytes at %d) lies outside the contract's memory of %d bytes", what, n, ptr, mem.Size())
	}
	return b, ""
}

// key reads a key argument: at most MaxKeyBytes of valid UTF-8.
func (inv *invocation) key(mem api.Memory, params []uint64, i int, what string) (string, string) {
	b, msg := inv.arg(mem, params, i, MaxKeyBytes, what)
	if msg != "" {
		return "", msg
	}
	if !utf8.Valid(b) {
		return "", fmt.Sprintf("%s %q is not valid UTF-8", what, b)
	}
	return string(b), ""
}

func hostTake(inv *invocation, mem api.Memory, p []uint64) int64 {
	ptr, n := uint64(api.DecodeU32(p[0])), uint64(api.DecodeU32(p[1]))
	switch {
	case inv.pending == nil:
		return inv.failure("take: no result is pending")
	case n != uint64(len(inv.pending)):
		return inv.failure("take: %d bytes are pending, not %d", len(inv.pending), n)
	}
	dst, ok := read(mem, ptr, n)
	if !ok {
		return inv.failure("take: the destination (%d bytes at %d) lies outside the contract's memory of %d bytes", n, ptr, mem.Size())
	}
	copy(dst, inv.pending)
	inv.pending = nil
	return resultNone
}

func hostABIVersion(*invocation, api.Memory, []uint64) int64 { return ABIVersion }

func hostTxID(inv *invocation, _ api.Memory, _ []uint64) int64 {
	return inv.produce([]byte(inv.stub.TxID()))
}

// hostTxTimestamp returns the timestamp itself, leaving nothing pending.
func hostTxTimestamp(inv *invocation, _ api.Memory, _ []uint64) int64 {
	return inv.stub.TxTimestamp().UnixNano()
}

func hostChannelID(inv *invocation, _ api.Memory, _ []uint64) int64 {
	return inv.produce([]byte(inv.stub.ChannelID()))
}

func hostCreator(inv *invocation, _ api.Memory, _ []uint64) int64 {
	return inv.produce(inv.stub.CreatorBytes())
}

func hostCreatorMSPID(inv *invocation, _ api.Memory, _ []uint64) int64 {
	return inv.produce([]byte(inv.stub.MSPID()))
}

func hostArgs(inv *invocation, _ api.Memory, _ []uint64) int64 {
	args := inv.stub.Args()
	fn := inv.stub.Function()
	n := 4 + 4 + len(fn)
	for _, a := range args {
		n += 4 + len(a)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(1+len(args)))
	b = appendBytes(b, []byte(fn))
	for _, a := range args {
		b = appendBytes(b, a)
	}
	return inv.produce(b)
}

func hostGetState(inv *invocation, mem api.Memory, p []uint64) int64 {
	key, msg := inv.key(mem, p, 0, "get_state: the key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	v, err := inv.stub.GetState(key)
	if err != nil {
		return inv.failure("get_state: %v", err)
	}
	if v == nil {
		return inv.absent()
	}
	return inv.produce(v)
}

func hostPutState(inv *invocation, mem api.Memory, p []uint64) int64 {
	key, msg := inv.key(mem, p, 0, "put_state: the key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	v, msg := inv.arg(mem, p, 2, MaxValueBytes, "put_state: the value")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if err := inv.stub.PutState(key, append([]byte(nil), v...)); err != nil {
		return inv.failure("put_state: %v", err)
	}
	return inv.done()
}

func hostDelState(inv *invocation, mem api.Memory, p []uint64) int64 {
	key, msg := inv.key(mem, p, 0, "del_state: the key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if err := inv.stub.DelState(key); err != nil {
		return inv.failure("del_state: %v", err)
	}
	return inv.done()
}

// openIterator registers a new iterator, returning its id.
func (inv *invocation) openIterator(it *iterator) int64 {
	it.id = inv.nextID
	inv.nextID++
	inv.iterators = append(inv.iterators, it)
	inv.pending = nil
	return int64(it.id)
}

func (inv *invocation) iteratorLimitReached(fn string) (int64, bool) {
	switch {
	case len(inv.iterators) >= MaxIterators:
		return inv.failure("%s: %d iterators are open, the most an invocation may have", fn, MaxIterators), true
	case inv.nextID == math.MaxInt32: // ids must stay non-negative
		return inv.failure("%s: too many iterators opened in one invocation", fn), true
	}
	return 0, false
}

func hostRangeOpen(inv *invocation, mem api.Memory, p []uint64) int64 {
	start, msg := inv.key(mem, p, 0, "range_open: the start key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	end, msg := inv.key(mem, p, 2, "range_open: the end key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	flags := api.DecodeU32(p[4])
	if flags&^rangeFlagComposite != 0 {
		return inv.failure("range_open: unknown flags 0x%x", flags)
	}
	if r, full := inv.iteratorLimitReached("range_open"); full {
		return r
	}
	var it contract.StateIterator
	var err error
	if flags&rangeFlagComposite != 0 && strings.HasPrefix(start, "\x00") {
		objectType, attrs, ok := partialCompositeQuery(start, end)
		if !ok {
			return inv.failure("range_open: with flag 1 and a start key beginning with U+0000, the bounds must be those of a partial composite key query: a composite key and the same key followed by U+10FFFF; got %q and %q", start, end)
		}
		it, err = inv.stub.GetStateByPartialCompositeKey(objectType, attrs)
	} else {
		it, err = inv.stub.GetStateByRange(start, end)
	}
	if err != nil {
		return inv.failure("range_open: %v", err)
	}
	return inv.openIterator(&iterator{state: it})
}

// partialCompositeQuery recognises the bounds of a partial composite key
// query, as compositekey.PartialRange computes them, and returns the
// query. Stub offers composite ranges only as
// GetStateByPartialCompositeKey, which records the range read as Fabric
// does, so bounds of any other shape are refused.
func partialCompositeQuery(start, end string) (string, []string, bool) {
	objectType, attrs, err := compositekey.Split(start)
	if err != nil {
		return "", nil, false
	}
	s, e, err := compositekey.PartialRange(objectType, attrs)
	if err != nil || s != start || e != end {
		return "", nil, false
	}
	return objectType, attrs, true
}

func hostHistoryOpen(inv *invocation, mem api.Memory, p []uint64) int64 {
	key, msg := inv.key(mem, p, 0, "history_open: the key")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if r, full := inv.iteratorLimitReached("history_open"); full {
		return r
	}
	it, err := inv.stub.GetHistoryForKey(key)
	if err != nil {
		return inv.failure("history_open: %v", err)
	}
	return inv.openIterator(&iterator{history: it})
}

// iterator returns the open iterator with the given id.
func (inv *invocation) iterator(id int32) (int, *iterator) {
	for i, it := range inv.iterators {
		if it.id == id {
			return i, it
		}
	}
	return -1, nil
}

// iteratorNext returns range_next (history false) or history_next.
func iteratorNext(fn string, history bool) func(*invocation, api.Memory, []uint64) int64 {
	return func(inv *invocation, _ api.Memory, p []uint64) int64 {
		id := api.DecodeI32(p[0])
		_, it := inv.iterator(id)
		switch {
		case it == nil:
			return inv.failure("%s: no open iterator has id %d", fn, id)
		case history && it.history == nil:
			return inv.failure("%s: iterator %d is a range iterator", fn, id)
		case !history && it.state == nil:
			return inv.failure("%s: iterator %d is a history iterator", fn, id)
		case it.done:
			return inv.absent()
		}
		var batch []byte
		var err error
		if history {
			batch, err = it.nextHistory()
		} else {
			batch, err = it.nextStates()
		}
		if err != nil {
			return inv.failure("%s: %v", fn, err)
		}
		if batch == nil {
			return inv.absent()
		}
		return inv.produce(batch)
	}
}

// nextStates returns the next KV batch, or nil when the range is done.
func (it *iterator) nextStates() ([]byte, error) {
	b := make([]byte, 4, 4096)
	n := 0
	for n < BatchSize {
		if !it.state.Next() {
			it.done = true
			break
		}
		b = appendBytes(b, []byte(it.state.Key()))
		b = appendBytes(b, it.state.Value())
		n++
	}
	if err := it.state.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	binary.LittleEndian.PutUint32(b, uint32(n))
	return b, nil
}

// nextHistory returns the next history batch, or nil when the history is
// done.
func (it *iterator) nextHistory() ([]byte, error) {
	b := make([]byte, 4, 4096)
	n := 0
	for n < BatchSize {
		if !it.history.Next() {
			it.done = true
			break
		}
		m := it.history.Modification()
		b = appendBytes(b, []byte(m.TxID))
		b = binary.LittleEndian.AppendUint64(b, uint64(m.Timestamp.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.Timestamp.Nanosecond()))
		if m.IsDelete {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendBytes(b, m.Value)
		n++
	}
	if err := it.history.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	binary.LittleEndian.PutUint32(b, uint32(n))
	return b, nil
}

func hostIteratorClose(inv *invocation, _ api.Memory, p []uint64) int64 {
	id := api.DecodeI32(p[0])
	i, it := inv.iterator(id)
	if it == nil {
		return inv.failure("iterator_close: no open iterator has id %d", id)
	}
	it.close()
	inv.iterators = append(inv.iterators[:i], inv.iterators[i+1:]...)
	return inv.done()
}

func hostSetEvent(inv *invocation, mem api.Memory, p []uint64) int64 {
	name, msg := inv.arg(mem, p, 0, MaxKeyBytes, "set_event: the name")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if !utf8.Valid(name) {
		return inv.failure("set_event: the name %q is not valid UTF-8", name)
	}
	payload, msg := inv.arg(mem, p, 2, MaxValueBytes, "set_event: the payload")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if err := inv.stub.SetEvent(string(name), append([]byte(nil), payload...)); err != nil {
		return inv.failure("set_event: %v", err)
	}
	return inv.done()
}

func hostInvokeContract(inv *invocation, mem api.Memory, p []uint64) int64 {
	name, msg := inv.arg(mem, p, 0, MaxKeyBytes, "invoke_contract: the contract name")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if !utf8.Valid(name) {
		return inv.failure("invoke_contract: the contract name %q is not valid UTF-8", name)
	}
	list, msg := inv.arg(mem, p, 2, MaxValueBytes, "invoke_contract: the arguments")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	args, err := decodeList(list)
	if err != nil {
		return inv.failure("invoke_contract: the arguments: %v", err)
	}
	res := inv.stub.InvokeContract(string(name), args)
	b := make([]byte, 0, 12+len(res.Message)+len(res.Payload))
	b = binary.LittleEndian.AppendUint32(b, uint32(res.Status))
	b = appendBytes(b, []byte(res.Message))
	b = appendBytes(b, res.Payload)
	return inv.produce(b)
}

func hostLog(inv *invocation, mem api.Memory, p []uint64) int64 {
	level := api.DecodeI32(p[0])
	ptr, n := uint64(api.DecodeU32(p[1])), uint64(api.DecodeU32(p[2]))
	line, ok := read(mem, ptr, n)
	if !ok {
		return inv.failure("log: the line (%d bytes at %d) lies outside the contract's memory of %d bytes", n, ptr, mem.Size())
	}
	line = line[:min(n, MaxLogLineBytes)]
	inv.logLines++
	logger := inv.module.rt.logger
	switch {
	case inv.logLines > MaxLogLines+1:
	case !logger.Enabled(context.Background(), slog.LevelDebug):
	case inv.logLines == MaxLogLines+1:
		logger.Debug("wasm: contract log limit reached; dropping further lines", "module", inv.module.name, "tx", inv.stub.TxID(), "limit", MaxLogLines)
	default:
		logger.Debug("wasm: contract log", "module", inv.module.name, "tx", inv.stub.TxID(), "level", level,
			"line", strings.ToValidUTF8(string(line), "\uFFFD"), "truncated", n > MaxLogLineBytes)
	}
	return inv.done()
}

func hostSetResponse(inv *invocation, mem api.Memory, p []uint64) int64 {
	if inv.response != nil {
		inv.violation = "contract called set_response more than once"
		return inv.failure("set_response: the response is already set")
	}
	status := api.DecodeI32(p[0])
	message, msg := inv.arg(mem, p, 1, MaxValueBytes, "set_response: the message")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	if !utf8.Valid(message) {
		return inv.failure("set_response: the message is not valid UTF-8")
	}
	payload, msg := inv.arg(mem, p, 3, MaxValueBytes, "set_response: the payload")
	if msg != "" {
		return inv.failure("%s", msg)
	}
	inv.response = &contract.Response{
		Status:  status,
		Message: string(message),
		Payload: append([]byte(nil), payload...),
	}
	return inv.done()
}

// appendBytes appends v in the bytes encoding: u32 length ‖ bytes.
func appendBytes(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// decodeList decodes the list encoding: u32 count ‖ count × bytes. It
// refuses trailing bytes, and copies the items out of b.
func decodeList(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("a list of %d bytes is shorter than its count", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n)*4 > uint64(len(b)) {
		return nil, fmt.Errorf("a list of %d items needs more than the %d bytes left", n, len(b))
	}
	items := make([][]byte, 0, n)
	for i := range n {
		if len(b) < 4 {
			return nil, fmt.Errorf("item %d: truncated length", i)
		}
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("item %d: %d bytes, but %d left", i, l, len(b))
		}
		items = append(items, append([]byte(nil), b[:l]...))
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last item", len(b))
	}
	return items, nil
}

// formatBytes formats a size as the spec writes limits: "256 MiB",
// "64 KiB", or bytes.
func formatBytes(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
