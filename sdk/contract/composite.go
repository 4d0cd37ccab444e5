package contract

import (
	"fmt"

	"github.com/chorusledger/chorus/internal/compositekey"
)

// Composite keys, as Fabric builds them: U+0000, the object type, U+0000,
// then each attribute followed by U+0000. Simple keys never begin with
// U+0000, so the two kinds never collide. The nodes build them with the
// same code (internal/compositekey).

// CreateCompositeKey returns the composite key of objectType and
// attributes. Every part must be valid UTF-8 without U+0000 or U+10FFFF.
func CreateCompositeKey(objectType string, attributes []string) (string, error) {
	key, err := compositekey.Create(objectType, attributes)
	if err != nil {
		return "", fmt.Errorf("contract: CreateCompositeKey: %w", err)
	}
	return key, nil
}

// SplitCompositeKey returns the object type and attributes of a composite
// key made by CreateCompositeKey.
func SplitCompositeKey(compositeKey string) (objectType string, attributes []string, err error) {
	objectType, attributes, err = compositekey.Split(compositeKey)
	if err != nil {
		return "", nil, fmt.Errorf("contract: SplitCompositeKey: %w", err)
	}
	return objectType, attributes, nil
}

// PartialCompositeKeyRange returns the key range [start, end) that holds
// the composite keys of objectType whose attributes begin with attributes:
// start is their composite key and end is start followed by U+10FFFF, as
// Fabric computes them.
func PartialCompositeKeyRange(objectType string, attributes []string) (start, end string, err error) {
	start, end, err = compositekey.PartialRange(objectType, attributes)
	if err != nil {
		return "", "", fmt.Errorf("contract: PartialCompositeKeyRange: %w", err)
	}
	return start, end, nil
}

// SimpleKeyRange checks the bounds of a range over simple keys and returns
// the range to read: an empty start becomes "\x01", so that composite keys
// are skipped, and bounds beginning with U+0000 are refused.
func SimpleKeyRange(start, end string) (string, string, error) {
	start, end, err := compositekey.SimpleRange(start, end)
	if err != nil {
		return "", "", fmt.Errorf("contract: GetStateByRange: %w", err)
	}
	return start, end, nil
}
