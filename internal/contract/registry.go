package contract

import (
	"errors"
	"fmt"

	lifecyclepb "github.com/chorusledger/chorus/proto/chorus/lifecycle"
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
	packages  Packages
}

// Packages finds the installed contract a definition names by its package
// hash: how user contracts, which run only as WebAssembly, are found.
type Packages interface {
	// Contract returns the contract of the installed package with the
	// given hash, or an error matching ErrNotInstalled.
	Contract(packageHash []byte) (Contract, error)
}

// NewRegistry returns a registry of system contracts, finding user
// contracts in packages (nil: none are installed).
func NewRegistry(packages Packages) *Registry {
	return &Registry{packages: packages}
}

// Register installs a native system contract (its name begins with '_').
// User contracts are never native: they are installed as packages and run
// as WebAssembly.
func (r *Registry) Register(name string, c Contract) error {
	if err := worldstate.ValidateNamespace(name); err != nil {
		return fmt.Errorf("contract: cannot register %q: %w", name, err)
	}
	if !IsSystem(name) {
		return fmt.Errorf("contract: cannot register %s natively: user contracts run only as WebAssembly packages", name)
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

// resolve finds the contract to run: a system contract by name, a user
// contract by its definition's package hash.
func (r *Registry) resolve(name, channel string, def *lifecyclepb.ContractDefinition) (Contract, error) {
	if IsSystem(name) {
		if c, ok := r.Lookup(name); ok {
			return c, nil
		}
		return nil, notInstalled(name, channel)
	}
	if r.packages == nil || len(def.GetPackageHash()) == 0 {
		return nil, notInstalled(name, channel)
	}
	c, err := r.packages.Contract(def.GetPackageHash())
	if errors.Is(err, ErrNotInstalled) {
		return nil, notInstalled(name, channel)
	}
	if err != nil {
		return nil, fmt.Errorf("contract: loading contract %s: %w", name, err)
	}
	return c, nil
}

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
