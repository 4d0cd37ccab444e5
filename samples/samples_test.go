package samples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/samples"
)

// build builds the sample pkg as a WebAssembly module, as
// AssetsBuildCommand does, and returns it.
func build(t *testing.T, pkg string, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "module.wasm")
	args := append([]string{"build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false"}, extra...)
	args = append(args, "-o", out, "./samples/"+pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".." // the module's root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAssetsModuleUpToDate(t *testing.T) {
	t.Parallel()
	if !strings.Contains(samples.AssetsBuildCommand, "-buildmode=c-shared -trimpath -buildvcs=false -o samples/assets/assets.wasm ./samples/assets") {
		t.Fatalf("AssetsBuildCommand %q does not match this test", samples.AssetsBuildCommand)
	}
	if got := build(t, "assets"); !bytes.Equal(got, samples.AssetsModule) {
		t.Fatalf("samples/assets/assets.wasm is stale: run %s", samples.AssetsBuildCommand)
	}
}

func TestAssetsModuleFollowsABI(t *testing.T) {
	checkABI(t, samples.AssetsModule)
}

func TestTokenBuilds(t *testing.T) {
	t.Parallel()
	checkABI(t, build(t, "token"))
	// The minter organization is set at build time.
	other := build(t, "token", "-ldflags=-X=main.minterMSPID=Org2MSP")
	if !bytes.Contains(other, []byte("Org2MSP")) {
		t.Error("-X main.minterMSPID did not reach the module")
	}
}

// abiImports are the signatures of the host functions of the ABI, §4.
var abiImports = map[string]string{
	"abi_version":     "() -> i32",
	"take":            "(i32 i32) -> i64",
	"args":            "() -> i64",
	"tx_id":           "() -> i64",
	"tx_timestamp":    "() -> i64",
	"channel_id":      "() -> i64",
	"creator":         "() -> i64",
	"creator_msp_id":  "() -> i64",
	"get_state":       "(i32 i32) -> i64",
	"put_state":       "(i32 i32 i32 i32) -> i64",
	"del_state":       "(i32 i32) -> i64",
	"range_open":      "(i32 i32 i32 i32 i32) -> i64",
	"range_next":      "(i32) -> i64",
	"history_open":    "(i32 i32) -> i64",
	"history_next":    "(i32) -> i64",
	"iterator_close":  "(i32) -> i64",
	"set_event":       "(i32 i32 i32 i32) -> i64",
	"invoke_contract": "(i32 i32 i32 i32) -> i64",
	"log":             "(i32 i32 i32) -> i64",
	"set_response":    "(i32 i32 i32 i32 i32) -> i64",
}

// checkABI checks the imports and exports of a module against §1 and §4.
func checkABI(t *testing.T, module []byte) {
	t.Helper()
	m, err := parseModule(module)
	if err != nil {
		t.Fatal(err)
	}
	var chorus []string
	for _, imp := range m.imports {
		switch imp.module {
		case "chorus":
			want, ok := abiImports[imp.name]
			if !ok {
				t.Errorf("import chorus.%s is not a host function of the ABI", imp.name)
			} else if imp.sig != want {
				t.Errorf("import chorus.%s has the signature %s, want %s", imp.name, imp.sig, want)
			}
			chorus = append(chorus, imp.name)
		case "wasi_snapshot_preview1":
		default:
			t.Errorf("import %s.%s from an unknown module", imp.module, imp.name)
		}
	}
	for _, need := range []string{"args", "take", "set_response", "get_state", "put_state"} {
		if !slices.Contains(chorus, need) {
			t.Errorf("chorus.%s is not imported", need)
		}
	}
	wantExports := map[string]string{
		"memory":             "memory",
		"_initialize":        "() -> ()",
		"chorus_abi_version": "() -> i32",
		"chorus_invoke":      "() -> i32",
	}
	for name, want := range wantExports {
		if got := m.exports[name]; got != want {
			t.Errorf("export %s is %q, want %q", name, got, want)
		}
	}
	if _, ok := m.exports["_start"]; ok {
		t.Error("the module exports _start: it is not a reactor")
	}
}
