// Package compositekey builds and splits Fabric's composite keys and the
// key ranges of its range queries, the same way for the nodes (the
// contract runtime's host functions, the Fabric chaincode stub) and for
// contracts (sdk/contract).
//
// A composite key is U+0000 ‖ objectType ‖ U+0000 ‖ (attribute ‖ U+0000)*,
// every part valid UTF-8 without U+0000 or U+10FFFF, as Fabric's shims
// build it. Simple keys never begin with U+0000, so the two kinds never
// collide; a partial composite key range is [key, key ‖ U+10FFFF).
//
// Errors name what is wrong without naming the caller, which prefixes
// them.
package compositekey

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// namespace begins every composite key.
	namespace = "\x00"
	// separator follows each part.
	separator = "\x00"
	// rangeEnd closes a partial composite key range: U+10FFFF, the largest
	// code point, which no part may contain.
	rangeEnd = string(utf8.MaxRune)
	// emptyStartSubstitute replaces an empty start of a range over simple
	// keys, as Fabric's shim does, so that the range skips composite keys.
	emptyStartSubstitute = "\x01"
)

// Create returns the composite key of objectType and attributes; parts
// may be empty.
func Create(objectType string, attributes []string) (string, error) {
	if err := checkPart(objectType); err != nil {
		return "", fmt.Errorf("object type %w", err)
	}
	n := len(namespace) + len(objectType) + len(separator)
	for i, a := range attributes {
		if err := checkPart(a); err != nil {
			return "", fmt.Errorf("attribute %d %w", i, err)
		}
		n += len(a) + len(separator)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(namespace)
	b.WriteString(objectType)
	b.WriteString(separator)
	for _, a := range attributes {
		b.WriteString(a)
		b.WriteString(separator)
	}
	return b.String(), nil
}

func checkPart(s string) error {
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

// Split returns the object type and attributes of a composite key made by
// Create.
func Split(key string) (objectType string, attributes []string, err error) {
	rest, ok := strings.CutPrefix(key, namespace)
	if !ok {
		return "", nil, fmt.Errorf("%q is not a composite key: it does not begin with U+0000", key)
	}
	if !strings.HasSuffix(rest, separator) {
		return "", nil, fmt.Errorf("%q is not a composite key: it does not end with U+0000", key)
	}
	parts := strings.Split(rest[:len(rest)-len(separator)], separator)
	return parts[0], parts[1:], nil
}

// PartialRange returns the key range [start, end) that holds the composite
// keys of objectType whose attributes begin with attributes: start is
// their composite key and end is start followed by U+10FFFF, as Fabric's
// GetStateByPartialCompositeKey computes them.
func PartialRange(objectType string, attributes []string) (start, end string, err error) {
	start, err = Create(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return start, start + rangeEnd, nil
}

// SimpleRange checks the bounds of a range over simple keys and returns
// the range to read: an empty start becomes "\x01", so that composite keys
// are skipped, and bounds beginning with U+0000 are refused.
func SimpleRange(start, end string) (string, string, error) {
	for _, k := range [...]string{start, end} {
		if strings.HasPrefix(k, namespace) {
			return "", "", fmt.Errorf("key %q begins with U+0000, which only composite keys may; use GetStateByPartialCompositeKey", k)
		}
	}
	if start == "" {
		start = emptyStartSubstitute
	}
	return start, end, nil
}
