package wasm

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Set by TestMain.
var (
	// guestWasm is the test contract built from testdata/guest.
	guestWasm []byte
	// cacheDir is a compilation cache shared by the tests' runtimes, so
	// that the guest is compiled once per test binary.
	cacheDir string
	// coldLoad is how long loading the guest took with cacheDir empty.
	coldLoad time.Duration
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "chorus-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "cache")
	start := time.Now()
	guestWasm, err = buildGuest(filepath.Join("testdata", "guest"), filepath.Join(dir, "guest.wasm"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	built := time.Since(start)
	// Fill the shared compilation cache, timing a load that compiles.
	ctx := context.Background()
	r, err := NewRuntime(ctx, Options{CacheDir: cacheDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start = time.Now()
	_, err = r.Load(ctx, guestWasm)
	coldLoad = time.Since(start)
	r.Close(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "built testdata/guest (%d bytes) in %v; loaded it in %v, compiling\n",
			len(guestWasm), built.Round(time.Millisecond), coldLoad.Round(time.Millisecond))
	}
	return m.Run()
}

// buildGuest builds the Go contract in dir as a wasip1 reactor.
func buildGuest(dir, out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s: %v\n%s", dir, err, b)
	}
	return os.ReadFile(out)
}

// newRuntime returns a runtime on the shared compilation cache, closed
// when the test ends.
func newRuntime(t testing.TB, opts Options) *Runtime {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = cacheDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r, err := NewRuntime(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

// loadGuest loads the test contract into r.
func loadGuest(t testing.TB, r *Runtime) *Module {
	t.Helper()
	m, err := r.Load(context.Background(), guestWasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testWriter writes log output to the test's log.
type testWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("%s", p)
	return len(p), nil
}
