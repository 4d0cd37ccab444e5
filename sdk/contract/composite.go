package contract

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Composite keys, as Fabric builds them: U+0000, the object type, U+0000,
// then each attribute followed by U+0000. Simple keys never begin with
// U+0000, so the two kinds never collide.
const (
	compositeKeyNamespace = "\x00"
	compositeSep          = "\x00"
	// maxUnicodeRune ends the range of a partial composite key query.
	maxUnicodeRune = string(utf8.MaxRune)
	// emptyKeySubstitute replaces an empty range start, as Fabric's shim
	// does, so that a range over simple keys skips composite keys.
	emptyKeySubstitute = "\x01"
)

// CreateCompositeKey returns the composite key of objectType and
// attributes. Every part must be valid UTF-8 without U+0000 or U+10FFFF.
func CreateCompositeKey(objectType string, attributes []string) (string, error) {
	if err := validateCompositePart(objectType); err != nil {
		return "", fmt.Errorf("contract: CreateCompositeKey: object type %w", err)
	}
	n := len(compositeKeyNamespace) + len(objectType) + len(compositeSep)
	for i, a := range attributes {
		if err := validateCompositePart(a); err != nil {
			return "", fmt.Errorf("contract: CreateCompositeKey: attribute %d %w", i, err)
		}
		n += len(a) + len(compositeSep)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteString(compositeSep)
	for _, a := range attributes {
		b.WriteString(a)
		b.WriteString(compositeSep)
	}
	return b.String(), nil
}

func validateCompositePart(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for i, r := range s {
		if r == 0 || r == utf8.MaxRune {
			return fmt.Errorf("%q contains %U at byte %d; U+0000 and U+10FFFF are not allowed", s, r, i)
		}
	}
	return nil
}

// SplitCompositeKey returns the object type and attributes of a composite
// key made by CreateCompositeKey.
func SplitCompositeKey(compositeKey string) (objectType string, attributes []string, err error) {
	rest, ok := strings.CutPrefix(compositeKey, compositeKeyNamespace)
	if !ok {
		return "", nil, fmt.Errorf("contract: SplitCompositeKey: %q is not a composite key: it does not begin with U+0000", compositeKey)
	}
	if !strings.HasSuffix(rest, compositeSep) {
		return "", nil, fmt.Errorf("contract: SplitCompositeKey: %q is not a composite key: it does not end with U+0000", compositeKey)
	}
	parts := strings.Split(rest[:len(rest)-len(compositeSep)], compositeSep)
	return parts[0], parts[1:], nil
}

// PartialCompositeKeyRange returns the key range [start, end) that holds
// the composite keys of objectType whose attributes begin with attributes:
// start is their composite key and end is start followed by U+10FFFF, as
// Fabric computes them.
func PartialCompositeKeyRange(objectType string, attributes []string) (start, end string, err error) {
	start, err = CreateCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return start, start + maxUnicodeRune, nil
}

// SimpleKeyRange checks the bounds of a range over simple keys and returns
// the range to read: an empty start becomes "\x01", so that composite keys
// are skipped, and bounds beginning with U+0000 are refused.
func SimpleKeyRange(start, end string) (string, string, error) {
	for _, k := range [...]string{start, end} {
		if strings.HasPrefix(k, compositeKeyNamespace) {
			return "", "", fmt.Errorf("contract: GetStateByRange: key %q begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey", k)
		}
	}
	if start == "" {
		start = emptyKeySubstitute
	}
	return start, end, nil
}
