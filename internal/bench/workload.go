package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
)

// op is one call of the workload's contract.
type op struct {
	fn       string
	args     []string
	evaluate bool // a query: Evaluate, not ordered
}

// generator makes the next operation of a worker. Each worker calls it
// from its own goroutine with its own random source.
type generator func(worker int, seq uint64, rng *rand.Rand) op

// asset is the JSON the asset-transfer contract stores, to size values.
type asset struct {
	AppraisedValue int64  `json:"AppraisedValue"`
	Color          string `json:"Color"`
	ID             string `json:"ID"`
	Owner          string `json:"Owner"`
	Size           int64  `json:"Size"`
}

// benchAsset is the asset the bench creates under id, its owner padded so
// that its JSON is about valueSize bytes.
func benchAsset(id string, valueSize int) asset {
	a := asset{AppraisedValue: 300, Color: "blue", ID: id, Owner: "bench", Size: 5}
	b, _ := json.Marshal(a)
	if pad := valueSize - len(b); pad > 0 {
		a.Owner += strings.Repeat("o", pad)
	}
	return a
}

// createOp returns the CreateAsset call of benchAsset(id, valueSize).
func createOp(id string, valueSize int) op {
	a := benchAsset(id, valueSize)
	return op{fn: "CreateAsset", args: []string{id, a.Color, strconv.FormatInt(a.Size, 10), a.Owner, strconv.FormatInt(a.AppraisedValue, 10)}}
}

// createBatchFn is the sample contract's bulk load (samples/assets).
const createBatchFn = "CreateAssets"

// createBatchOp returns the CreateAssets call that creates benchAsset(id,
// valueSize) for each of ids.
func createBatchOp(ids []string, valueSize int) op {
	list := make([]asset, len(ids))
	for i, id := range ids {
		list[i] = benchAsset(id, valueSize)
	}
	b, _ := json.Marshal(list)
	return op{fn: createBatchFn, args: []string{string(b)}}
}

// valueBytes is the size of the JSON of benchAsset(id, valueSize).
func valueBytes(id string, valueSize int) int {
	b, _ := json.Marshal(benchAsset(id, valueSize))
	return len(b)
}

// keyID is the id of asset i of the read and transfer key space.
func keyID(i int) string { return "bench-key-" + strconv.Itoa(i) }

// newGenerator returns the operations of cfg's workload; ids of created
// assets start with prefix, unique to the run.
func newGenerator(cfg Config, prefix string) generator {
	switch cfg.Workload {
	case Read:
		return func(_ int, _ uint64, rng *rand.Rand) op {
			return op{fn: "ReadAsset", args: []string{keyID(rng.IntN(cfg.Keys))}, evaluate: true}
		}
	case Transfer:
		return func(_ int, _ uint64, rng *rand.Rand) op {
			return op{fn: "TransferAsset", args: []string{keyID(rng.IntN(cfg.Keys)), "owner-" + strconv.Itoa(rng.IntN(1000))}}
		}
	default:
		return func(worker int, seq uint64, _ *rand.Rand) op {
			return createOp(fmt.Sprintf("%s-%d-%d", prefix, worker, seq), cfg.ValueSize)
		}
	}
}

// onceGenerator hands out ops 0 to n-1, each once, across workers, making
// each when it is handed out (a preload of a million assets would hold
// hundreds of megabytes of arguments if made first); past the end it
// returns an op with an empty fn.
type onceGenerator struct {
	n      int64
	makeOp func(i int) op
	next   atomic.Int64
}

func newOnceGenerator(n int, makeOp func(i int) op) *onceGenerator {
	return &onceGenerator{n: int64(n), makeOp: makeOp}
}

func (g *onceGenerator) generate(int, uint64, *rand.Rand) op {
	i := g.next.Add(1) - 1
	if i >= g.n {
		return op{}
	}
	return g.makeOp(int(i))
}
