package contract

import (
	"fmt"
	"slices"
	"sync"

	"github.com/chorusledger/chorus/internal/worldstate"
)

// Registry holds the contracts installed on a peer, by name. A name is
// also the contract's namespace in the world state. Names beginning with
// '_' are system contracts (LifecycleName): they run without a definition
// on the channel, and no definition may be committed for them.
//
// The zero Registry is empty and ready to use. A Registry is safe for
// concurrent use: contracts may be registered (installed) while others
// run.
type Registry struct {
	mu        sync.RWMutex
	contracts map[string]Contract
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{}
}

// Register installs c under name, which must be a valid namespace (see
// worldstate.ValidateNamespace) not already registered.
func (r *Registry) Register(name string, c Contract) error {
	if err := worldstate.ValidateNamespace(name); err != nil {
		return fmt.Errorf("contract: cannot register %q: %w", name, err)
	}
	if c == nil {
		return fmt.Errorf("contract: cannot register %s: nil contract", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.contracts[name]; ok {
		return fmt.Errorf("contract: contract %s is already registered", name)
	}
	if r.contracts == nil {
		r.contracts = make(map[string]Contract)
	}
	r.contracts[name] = c
	return nil
}

// Lookup returns the contract registered under name.
func (r *Registry) Lookup(name string) (Contract, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.contracts[name]
	return c, ok
}

// Names returns the names of the registered contracts, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.contracts))
	for name := range r.contracts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// IsSystem reports whether name is the name of a system contract: one
// beginning with '_', a prefix reserved for contracts built into the peer.
func IsSystem(name string) bool {
	return len(name) > 0 && name[0] == '_'
}
