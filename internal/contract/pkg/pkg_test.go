package pkg

import (
	"bytes"
	"strings"
	"testing"
)

var module = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{1}, 100)...)

func TestRoundTripIsDeterministic(t *testing.T) {
	p, err := New("assets_1.0", module)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Marshal()
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of one package differ")
	}
	q, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if q.Label != "assets_1.0" || !bytes.Equal(q.Module, module) || q.ABIVersion != ABIVersion {
		t.Fatalf("parsed %+v", q.Metadata)
	}
	if id := ID(q.Label, Hash(a)); !strings.HasPrefix(id, "assets_1.0:") || len(id) != len("assets_1.0:")+64 {
		t.Fatalf("id %s", id)
	}
}

func TestRejects(t *testing.T) {
	if _, err := New("bad label!", module); err == nil || !strings.Contains(err.Error(), "label") {
		t.Errorf("bad label: %v", err)
	}
	if _, err := New("x", []byte("not wasm")); err == nil || !strings.Contains(err.Error(), "not a WebAssembly module") {
		t.Errorf("not wasm: %v", err)
	}
	if _, err := Parse([]byte("garbage")); err == nil {
		t.Error("parsed garbage")
	}
	p := &Package{Metadata: Metadata{Label: "x", Type: Type, ABIVersion: 2}, Module: module}
	b, _ := p.Marshal()
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "ABI version 2") {
		t.Errorf("newer ABI: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	p, _ := New("x", module)
	b, _ := p.Marshal()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := Parse(data)
		if err != nil {
			return
		}
		again, err := q.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if r, err := Parse(again); err != nil || r.Label != q.Label || !bytes.Equal(r.Module, q.Module) {
			t.Fatal("a parsed package does not round-trip")
		}
	})
}
