package compositekey

import (
	"slices"
	"strings"
	"testing"
)

func TestCreateAndSplit(t *testing.T) {
	for _, tc := range []struct {
		objectType string
		attrs      []string
		key        string
	}{
		{"color~name", []string{"blue", "asset1"}, "\x00color~name\x00blue\x00asset1\x00"},
		{"owner", nil, "\x00owner\x00"},
		{"o", []string{"", "é"}, "\x00o\x00\x00é\x00"},
		{"", nil, "\x00\x00"},
	} {
		key, err := Create(tc.objectType, tc.attrs)
		if err != nil || key != tc.key {
			t.Errorf("Create(%q, %q) = %q, %v; want %q", tc.objectType, tc.attrs, key, err, tc.key)
		}
		ot, attrs, err := Split(key)
		if err != nil || ot != tc.objectType || !slices.Equal(attrs, tc.attrs) {
			t.Errorf("Split(%q) = %q, %q, %v", key, ot, attrs, err)
		}
	}
	for _, bad := range []struct {
		objectType string
		attrs      []string
		err        string
	}{
		{"a\x00b", nil, `object type "a\x00b" contains U+0000 at byte 1`},
		{"a", []string{"x\U0010FFFF"}, `attribute 0 "x\U0010ffff" contains U+10FFFF at byte 1`},
		{"a", []string{"ok", "\xff"}, `attribute 1 "\xff" is not valid UTF-8`},
	} {
		if k, err := Create(bad.objectType, bad.attrs); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("Create(%q, %q) = %q, %v; want an error containing %q", bad.objectType, bad.attrs, k, err, bad.err)
		}
	}
	for _, bad := range []string{"", "plain", "owner\x00", "\x00owner", "\x00", "\x00noend"} {
		if ot, attrs, err := Split(bad); err == nil {
			t.Errorf("Split(%q) = %q, %q", bad, ot, attrs)
		}
	}
}

func TestPartialRange(t *testing.T) {
	start, end, err := PartialRange("color~name", []string{"blue"})
	if err != nil || start != "\x00color~name\x00blue\x00" || end != start+"\xf4\x8f\xbf\xbf" {
		t.Errorf("PartialRange = %q, %q, %v", start, end, err)
	}
	if _, _, err := PartialRange("a\x00", nil); err == nil {
		t.Error("PartialRange accepted an object type with U+0000")
	}
}

func TestSimpleRange(t *testing.T) {
	for _, tc := range []struct{ start, end, wantStart, wantEnd, err string }{
		{"", "", "\x01", "", ""},
		{"a", "b", "a", "b", ""},
		{"\x01", "", "\x01", "", ""},
		{"\x00a", "", "", "", `key "\x00a" begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey`},
		{"", "\x00", "", "", `key "\x00" begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey`},
	} {
		s, e, err := SimpleRange(tc.start, tc.end)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || s != tc.wantStart || e != tc.wantEnd {
			t.Errorf("SimpleRange(%q, %q) = %q, %q, %v", tc.start, tc.end, s, e, err)
		}
	}
}

// FuzzSplit: splitting never panics, and what splits into valid parts is
// rebuilt byte for byte.
func FuzzSplit(f *testing.F) {
	f.Add("\x00owner\x00alice\x00")
	f.Add("\x00\x00")
	f.Add("\x00a\x00\xff\x00")
	f.Fuzz(func(t *testing.T, key string) {
		ot, attrs, err := Split(key)
		if err != nil {
			return
		}
		again, err := Create(ot, attrs)
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
