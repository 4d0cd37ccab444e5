package contract_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
)

// TestCompositeKeys: the SDK's composite key functions are the nodes'
// (internal/compositekey, which tests them in full), with errors that name
// the function a contract called.
func TestCompositeKeys(t *testing.T) {
	key, err := contract.CreateCompositeKey("owner", []string{"alice", "asset1"})
	if err != nil || key != "\x00owner\x00alice\x00asset1\x00" {
		t.Fatalf("CreateCompositeKey = %q, %v", key, err)
	}
	if ot, attrs, err := contract.SplitCompositeKey(key); err != nil || ot != "owner" || !slices.Equal(attrs, []string{"alice", "asset1"}) {
		t.Errorf("SplitCompositeKey(%q) = %q, %q, %v", key, ot, attrs, err)
	}
	start, end, err := contract.PartialCompositeKeyRange("owner", []string{"alice"})
	if err != nil || start != "\x00owner\x00alice\x00" || end != "\x00owner\x00alice\x00\U0010FFFF" {
		t.Errorf("PartialCompositeKeyRange = %q, %q, %v", start, end, err)
	}
	if s, e, err := contract.SimpleKeyRange("", "b"); err != nil || s != "\x01" || e != "b" {
		t.Errorf("SimpleKeyRange(\"\", \"b\") = %q, %q, %v", s, e, err)
	}

	for name, err := range map[string]error{
		"contract: CreateCompositeKey: attribute 0 ":       second(contract.CreateCompositeKey("a", []string{"\xff"})),
		"contract: SplitCompositeKey: ":                    third(contract.SplitCompositeKey("plain")),
		"contract: PartialCompositeKeyRange: object type ": third(contract.PartialCompositeKeyRange("a\x00", nil)),
		"contract: GetStateByRange: key ":                  third(contract.SimpleKeyRange("\x00a", "")),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), name) {
			t.Errorf("error %v, want it to begin with %q", err, name)
		}
	}
}

func second[A any](_ A, err error) error        { return err }
func third[A, B any](_ A, _ B, err error) error { return err }
