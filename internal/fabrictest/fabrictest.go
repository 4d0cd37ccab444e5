// Package fabrictest gives tests the real blocks Hyperledger Fabric 2.5
// wrote, which travel in the shared test data beside the checkout
// (../shared/testdata/fabric-2.5, read-only), for the tests that must
// parse and verify Fabric's own bytes. Only tests import it.
package fabrictest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// dataDir is the test data's path below the directory that holds the
// checkout.
const dataDir = "shared/testdata/fabric-2.5"

// Dir returns the directory of the Fabric test data, found from the
// test's working directory (its package's) upwards.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, dataDir)
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			return candidate
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no %s above %s: the shared test data must sit beside the checkout", dataDir, wd)
		}
	}
}

// File returns the contents of the test data's file name.
func File(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatalf("read Fabric test data: %v", err)
	}
	return b
}

// RawBlocks returns block0.pb, block1.pb, ... as Fabric wrote them, in
// order.
func RawBlocks(t testing.TB) [][]byte {
	t.Helper()
	dir := Dir(t)
	var raws [][]byte
	for i := 0; ; i++ {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("block%d.pb", i)))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatalf("read Fabric block %d: %v", i, err)
		}
		raws = append(raws, raw)
	}
	if len(raws) == 0 {
		t.Fatalf("no Fabric blocks in %s", dir)
	}
	return raws
}
