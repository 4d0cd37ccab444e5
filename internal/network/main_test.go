package network_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// chorusBinary is built once for the package's end-to-end tests, without
// the race detector (the nodes are separate processes; their own
// concurrency is tested with -race in their packages).
var chorusBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "chorus-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		chorusBinary = filepath.Join(dir, "chorus")
		build := exec.Command("go", "build", "-o", chorusBinary, "../../cmd/chorus")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building chorus for the end-to-end tests:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func needE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with real processes: runs in the e2e tier (go test ./internal/network)")
	}
}
