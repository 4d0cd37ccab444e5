package bloom

import (
	"fmt"
	"sync"
	"testing"

	"github.com/chorusledger/chorus/internal/kv"
)

// TestFilter: every key added is reported, across the stages a growing
// filter adds, by string and by bytes alike; few absent keys are.
func TestFilter(t *testing.T) {
	f := New()
	const n = 5 * firstStage // three stages
	for i := range n {
		if i%2 == 0 {
			f.Add(fmt.Sprintf("%064x", i))
		} else {
			f.AddBytes(fmt.Appendf(nil, "%064x", i))
		}
	}
	if stages := len(*f.stages.Load()); stages != 3 {
		t.Errorf("%d stages for %d keys, want 3 (65536 + 131072 + 262144)", stages, n)
	}
	for i := range n {
		key := fmt.Sprintf("%064x", i)
		if !f.MayContain(key) || !f.MayContainBytes([]byte(key)) {
			t.Fatalf("key %d added but reported absent", i)
		}
	}
	const absent = 100_000
	positives := 0
	for i := range absent {
		if f.MayContain(fmt.Sprintf("absent-%d", i)) {
			positives++
		}
	}
	if rate := float64(positives) / absent; rate > 0.03 {
		t.Errorf("false positive rate %.2f%% over %d absent keys", 100*rate, absent)
	}
	t.Logf("false positives: %d of %d absent keys", positives, absent)
}

// TestFilterConcurrent adds from one goroutine while others ask, across
// the growth of a stage (run with -race): a key added before a lookup
// began is always found.
func TestFilterConcurrent(t *testing.T) {
	f := New()
	const n = 2 * firstStage
	var added sync.WaitGroup
	published := make(chan int, n)
	added.Go(func() {
		defer close(published)
		for i := range n {
			f.Add(fmt.Sprint(i))
			published <- i
		}
	})
	var readers sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		readers.Go(func() {
			for i := range published {
				if !f.MayContain(fmt.Sprint(i)) {
					errs <- fmt.Errorf("key %d added but reported absent", i)
					return
				}
			}
		})
	}
	added.Wait()
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkMayContainAbsent(b *testing.B) {
	f := New()
	for i := range 1_000_000 {
		f.Add(fmt.Sprint(i))
	}
	key := []byte("\x00assets\x00asset-absent-0001")
	for b.Loop() {
		f.MayContainBytes(key)
	}
}

// TestFilterAddingAgainDoesNotGrow: a key added again and again (a state
// key written by every block) takes its place once.
func TestFilterAddingAgainDoesNotGrow(t *testing.T) {
	f := New()
	for range 4 * firstStage {
		f.Add("balance")
		f.AddBytes([]byte("counter"))
	}
	stages := *f.stages.Load()
	if len(stages) != 1 || stages[0].n != 2 {
		t.Fatalf("%d stages, %d keys counted in the first; want 1 stage holding 2", len(stages), stages[0].n)
	}
	if !f.MayContain("balance") || !f.MayContain("counter") {
		t.Fatal("a key added is reported absent")
	}
}

// TestFromPrefix: the filter holds every key under the prefix, without the
// prefix, and nothing else.
func TestFromPrefix(t *testing.T) {
	db, err := kv.Open("db", kv.Options{FS: kv.NewCrashableMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := db.NewBatch()
	for i := range 1000 {
		b.Set(fmt.Appendf(nil, "p/%d", i), []byte("v"))
		b.Set(fmt.Appendf(nil, "q/%d", i), []byte("v"))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	f, err := FromPrefix(db, []byte("p/"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if !f.MayContain(fmt.Sprint(i)) {
			t.Fatalf("key p/%d not in the filter as %d", i, i)
		}
	}
	if n := (*f.stages.Load())[0].n; n > 1000 || n < 990 {
		t.Errorf("%d keys counted, want the 1,000 under the prefix (less a few false positives)", n)
	}
}
