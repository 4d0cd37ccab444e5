//go:build !(linux && (amd64 || arm64))

package wasm

import "errors"

// errNoDirtyTracking: outside Linux on amd64 and arm64, instance memories
// are reset by comparing every page (ADR 0006).
var errNoDirtyTracking = errors.New("dirty-page tracking needs Linux 6.7 or later on amd64 or arm64")

// trackedMemory is never made on this platform.
type trackedMemory struct{ armed bool }

func newTrackedMemory(uint64) (*trackedMemory, error) { return nil, errNoDirtyTracking }

func (t *trackedMemory) Reallocate(uint64) []byte    { return nil }
func (t *trackedMemory) Free()                       {}
func (t *trackedMemory) arm() error                  { return errNoDirtyTracking }
func (t *trackedMemory) restore([]byte) (int, error) { return 0, errNoDirtyTracking }

func dirtyTrackingProbe() error { return errNoDirtyTracking }
