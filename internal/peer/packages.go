package peer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/pkg"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
)

// ModuleLoader compiles a WebAssembly module into a runnable contract
// (internal/contract/wasm's runtime, in production).
type ModuleLoader interface {
	Load(ctx context.Context, module []byte) (contract.Contract, error)
}

// packageStore holds the contract packages installed on this peer, one
// file per package (<hex hash>.pkg) in its directory, and the contracts
// compiled from them. It is how contract definitions, which name a package
// by hash, find the code to run.
type packageStore struct {
	dir    string
	loader ModuleLoader

	mu     sync.Mutex
	infos  map[string]*adminpb.InstalledPackage // by hex hash
	loaded map[string]contract.Contract
}

func openPackageStore(dir string, loader ModuleLoader) (*packageStore, error) {
	s := &packageStore{dir: dir, loader: loader, infos: map[string]*adminpb.InstalledPackage{}, loaded: map[string]contract.Contract{}}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("peer: contract directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pkg") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		p, err := pkg.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("peer: installed package %s: %w", e.Name(), err)
		}
		hash := pkg.Hash(b)
		s.infos[hex.EncodeToString(hash)] = &adminpb.InstalledPackage{PackageId: pkg.ID(p.Label, hash), Label: p.Label, Hash: hash}
	}
	return s, nil
}

// Install validates, compiles and stores a package. Installing a package
// again is harmless.
func (s *packageStore) Install(ctx context.Context, archive []byte) (*adminpb.InstalledPackage, error) {
	p, err := pkg.Parse(archive)
	if err != nil {
		return nil, err
	}
	hash := pkg.Hash(archive)
	key := hex.EncodeToString(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.infos[key]; ok {
		return info, nil
	}
	if s.loader == nil {
		return nil, errors.New("peer: this peer runs no WebAssembly contracts")
	}
	c, err := s.loader.Load(ctx, p.Module)
	if err != nil {
		return nil, fmt.Errorf("peer: package %s does not load: %w", p.Label, err)
	}
	if s.dir != "" {
		if err := writeFileSynced(filepath.Join(s.dir, key+".pkg"), archive); err != nil {
			return nil, fmt.Errorf("peer: storing package %s: %w", p.Label, err)
		}
	}
	info := &adminpb.InstalledPackage{PackageId: pkg.ID(p.Label, hash), Label: p.Label, Hash: hash}
	s.infos[key], s.loaded[key] = info, c
	return info, nil
}

// List returns the installed packages by label.
func (s *packageStore) List() []*adminpb.InstalledPackage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*adminpb.InstalledPackage, 0, len(s.infos))
	for _, i := range s.infos {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PackageId < out[j].PackageId })
	return out
}

// Contract returns the contract of the installed package with the hash,
// compiling it on first use after a restart (contract.Packages).
func (s *packageStore) Contract(hash []byte) (contract.Contract, error) {
	key := hex.EncodeToString(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.loaded[key]; ok {
		return c, nil
	}
	if _, ok := s.infos[key]; !ok || s.loader == nil {
		return nil, fmt.Errorf("%w: package %s", contract.ErrNotInstalled, key)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, key+".pkg"))
	if err != nil {
		return nil, err
	}
	p, err := pkg.Parse(b)
	if err != nil {
		return nil, err
	}
	c, err := s.loader.Load(context.Background(), p.Module)
	if err != nil {
		return nil, fmt.Errorf("package %s does not load: %w", p.Label, err)
	}
	s.loaded[key] = c
	return c, nil
}

// writeFileSynced writes a file atomically and durably.
func writeFileSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// InstallPackage installs a contract package on this peer.
func (p *Peer) InstallPackage(ctx context.Context, archive []byte) (*adminpb.InstalledPackage, error) {
	return p.packages.Install(ctx, archive)
}

// InstalledPackages lists the packages installed on this peer.
func (p *Peer) InstalledPackages() []*adminpb.InstalledPackage { return p.packages.List() }
