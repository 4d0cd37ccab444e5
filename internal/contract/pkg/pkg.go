// Package pkg is the contract package format: what `chorus contract
// package` writes, peers install, and contract definitions name by hash.
//
// A package is an uncompressed tar archive holding two files, in this
// order, with fixed modes and times so that the same contents always give
// the same bytes:
//
//	metadata.json   {"label":"assets_1.0","type":"wasm","abiVersion":1}
//	contract.wasm   the WebAssembly module (docs/spec/contract-abi.md)
//
// The package's hash is SHA-256 of the archive's bytes; its id, as in
// Fabric, is "<label>:<hex hash>".
package pkg

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Type is the only package type: a WebAssembly module.
const Type = "wasm"

// ABIVersion is the contract ABI version this build's packages declare.
const ABIVersion = 1

// MaxModuleBytes bounds a package's module.
const MaxModuleBytes = 64 << 20

// Metadata describes a package.
type Metadata struct {
	Label      string `json:"label"`
	Type       string `json:"type"`
	ABIVersion int    `json:"abiVersion"`
}

// Package is a parsed contract package.
type Package struct {
	Metadata
	Module []byte
}

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,128}$`)

// New makes a package of a module under a label.
func New(label string, module []byte) (*Package, error) {
	p := &Package{Metadata: Metadata{Label: label, Type: Type, ABIVersion: ABIVersion}, Module: module}
	return p, p.validate()
}

func (p *Package) validate() error {
	if !labelPattern.MatchString(p.Label) {
		return fmt.Errorf("pkg: label %q: use 1 to 128 letters, digits, '_', '.', '+' or '-'", p.Label)
	}
	if p.Type != Type {
		return fmt.Errorf("pkg: package type %q; this build runs %q packages", p.Type, Type)
	}
	if p.ABIVersion != ABIVersion {
		return fmt.Errorf("pkg: package speaks contract ABI version %d; this build supports %d", p.ABIVersion, ABIVersion)
	}
	if len(p.Module) < 8 || !bytes.Equal(p.Module[:4], []byte("\x00asm")) {
		return errors.New("pkg: contract.wasm is not a WebAssembly module")
	}
	if len(p.Module) > MaxModuleBytes {
		return fmt.Errorf("pkg: module of %d bytes exceeds %d", len(p.Module), MaxModuleBytes)
	}
	return nil
}

// Marshal writes the package's archive.
func (p *Package) Marshal() ([]byte, error) {
	meta, err := json.Marshal(p.Metadata)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"metadata.json", meta}, {"contract.wasm", p.Module}} {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatUSTAR, Typeflag: tar.TypeReg}
		if err := w.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads a package archive.
func Parse(b []byte) (*Package, error) {
	r := tar.NewReader(bytes.NewReader(b))
	p := &Package{}
	var sawMeta, sawModule bool
	for {
		hdr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pkg: not a contract package: %w", err)
		}
		if hdr.Size > MaxModuleBytes {
			return nil, fmt.Errorf("pkg: %s of %d bytes is too large", hdr.Name, hdr.Size)
		}
		data, err := io.ReadAll(io.LimitReader(r, MaxModuleBytes+1))
		if err != nil {
			return nil, fmt.Errorf("pkg: reading %s: %w", hdr.Name, err)
		}
		switch hdr.Name {
		case "metadata.json":
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p.Metadata); err != nil {
				return nil, fmt.Errorf("pkg: metadata.json: %w", err)
			}
			sawMeta = true
		case "contract.wasm":
			p.Module, sawModule = data, true
		default:
			return nil, fmt.Errorf("pkg: unexpected file %q in a contract package", hdr.Name)
		}
	}
	if !sawMeta || !sawModule {
		return nil, errors.New("pkg: a contract package holds metadata.json and contract.wasm")
	}
	return p, p.validate()
}

// Hash returns SHA-256 of a package's bytes.
func Hash(archive []byte) []byte {
	h := sha256.Sum256(archive)
	return h[:]
}

// ID is a package's id: "<label>:<hex hash>".
func ID(label string, hash []byte) string { return label + ":" + hex.EncodeToString(hash) }

// ReadFile reads a package file, or packages a bare WebAssembly module
// (a .wasm file) under label.
func ReadFile(path, label string) (*Package, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if bytes.HasPrefix(b, []byte("\x00asm")) {
		if label == "" {
			label = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
		p, err := New(label, b)
		if err != nil {
			return nil, nil, err
		}
		archive, err := p.Marshal()
		return p, archive, err
	}
	p, err := Parse(b)
	return p, b, err
}

// BuildCommand is how a Go contract in dir is built into out: the
// standard toolchain, a WebAssembly reactor module, reproducibly.
func BuildCommand(dir, out string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	return cmd
}

// Build compiles the Go contract in dir and packages it under label.
func Build(dir, label string) (*Package, error) {
	tmp, err := os.MkdirTemp("", "chorus-contract-build")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "contract.wasm")
	cmd := BuildCommand(dir, out)
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pkg: building %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared): %w\n%s", dir, err, output)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return New(label, module)
}
