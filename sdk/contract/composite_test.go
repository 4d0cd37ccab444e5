package contract_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/sdk/contract"
)

func TestCompositeKeys(t *testing.T) {
	for _, tc := range []struct {
		objectType string
		attrs      []string
		key        string
	}{
		{"owner", []string{"alice", "asset1"}, "\x00owner\x00alice\x00asset1\x00"},
		{"owner", nil, "\x00owner\x00"},
		{"o", []string{"", "é"}, "\x00o\x00\x00é\x00"},
		{"", nil, "\x00\x00"},
	} {
		key, err := contract.CreateCompositeKey(tc.objectType, tc.attrs)
		if err != nil || key != tc.key {
			t.Errorf("CreateCompositeKey(%q, %q) = %q, %v; want %q", tc.objectType, tc.attrs, key, err, tc.key)
		}
		ot, attrs, err := contract.SplitCompositeKey(key)
		if err != nil || ot != tc.objectType || !slices.Equal(attrs, tc.attrs) {
			t.Errorf("SplitCompositeKey(%q) = %q, %q, %v", key, ot, attrs, err)
		}
	}
	for _, bad := range []struct {
		objectType string
		attrs      []string
	}{
		{"a\x00b", nil},
		{"a", []string{"x\U0010FFFF"}},
		{"a", []string{"ok", "\xff"}},
	} {
		if k, err := contract.CreateCompositeKey(bad.objectType, bad.attrs); err == nil {
			t.Errorf("CreateCompositeKey(%q, %q) = %q", bad.objectType, bad.attrs, k)
		}
	}
	for _, bad := range []string{"", "owner", "owner\x00", "\x00owner", "\x00"} {
		if ot, attrs, err := contract.SplitCompositeKey(bad); err == nil {
			t.Errorf("SplitCompositeKey(%q) = %q, %q", bad, ot, attrs)
		}
	}
	start, end, err := contract.PartialCompositeKeyRange("owner", []string{"alice"})
	if err != nil || start != "\x00owner\x00alice\x00" || end != "\x00owner\x00alice\x00\U0010FFFF" {
		t.Errorf("PartialCompositeKeyRange = %q, %q, %v", start, end, err)
	}
}

func TestSimpleKeyRange(t *testing.T) {
	for _, tc := range []struct{ start, end, wantStart, wantEnd, err string }{
		{"", "", "\x01", "", ""},
		{"a", "b", "a", "b", ""},
		{"\x01", "", "\x01", "", ""},
		{"\x00a", "", "", "", `contract: GetStateByRange: key "\x00a" begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey`},
		{"", "\x00", "", "", `contract: GetStateByRange: key "\x00" begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey`},
	} {
		s, e, err := contract.SimpleKeyRange(tc.start, tc.end)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || s != tc.wantStart || e != tc.wantEnd {
			t.Errorf("SimpleKeyRange(%q, %q) = %q, %q, %v", tc.start, tc.end, s, e, err)
		}
	}
}

// FuzzSplitCompositeKey: splitting never panics, and what splits into
// valid parts is rebuilt byte for byte.
func FuzzSplitCompositeKey(f *testing.F) {
	f.Add("\x00owner\x00alice\x00")
	f.Add("\x00\x00")
	f.Add("\x00a\x00\xff\x00")
	f.Fuzz(func(t *testing.T, key string) {
		ot, attrs, err := contract.SplitCompositeKey(key)
		if err != nil {
			return
		}
		again, err := contract.CreateCompositeKey(ot, attrs)
		if err != nil {
			if !strings.ContainsRune(key, 0x10FFFF) && strings.ToValidUTF8(key, "") == key {
				t.Fatalf("%q split into %q %q, which do not make a key: %v", key, ot, attrs, err)
			}
			return
		}
		if again != key {
			t.Fatalf("%q split and rebuilt as %q", key, again)
		}
	})
}
