package worldstate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Composite keys, as Fabric's shims build them: 0x00, the object type, then
// each attribute, each part followed by 0x00. The leading 0x00 keeps
// composite keys apart from simple keys, which by convention never start
// with it.
const (
	compositeKeyNamespace = "\x00"
	compositeSep          = "\x00"
	// partialCompositeEnd closes a partial-composite range: U+10FFFF, the
	// largest code point, which no part may contain.
	partialCompositeEnd = string(utf8.MaxRune)
)

// CreateCompositeKey returns the composite key of objectType and attrs.
// Every part must be valid UTF-8 and contain neither U+0000 nor U+10FFFF,
// as Fabric's shims require; parts may be empty.
func CreateCompositeKey(objectType string, attrs []string) (string, error) {
	if err := validateCompositePart(objectType); err != nil {
		return "", fmt.Errorf("worldstate: composite key object type: %w", err)
	}
	n := len(compositeKeyNamespace) + len(objectType) + 1
	for i, a := range attrs {
		if err := validateCompositePart(a); err != nil {
			return "", fmt.Errorf("worldstate: composite key attribute %d: %w", i, err)
		}
		n += len(a) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteString(compositeSep)
	for _, a := range attrs {
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
func SplitCompositeKey(key string) (objectType string, attrs []string, err error) {
	rest, ok := strings.CutPrefix(key, compositeKeyNamespace)
	if !ok {
		return "", nil, fmt.Errorf("worldstate: %q is not a composite key: it does not start with U+0000", key)
	}
	if !strings.HasSuffix(rest, compositeSep) {
		return "", nil, fmt.Errorf("worldstate: %q is not a composite key: it does not end with U+0000", key)
	}
	parts := strings.Split(rest[:len(rest)-1], compositeSep)
	return parts[0], parts[1:], nil
}

// PartialCompositeKeyRange returns the range [start, end) that holds every
// composite key of objectType whose attributes begin with attrs: start is
// the composite key of the given parts and end is start followed by
// U+10FFFF, as Fabric's GetStateByPartialCompositeKey computes them.
func PartialCompositeKeyRange(objectType string, attrs []string) (start, end string, err error) {
	start, err = CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", "", err
	}
	return start, start + partialCompositeEnd, nil
}
