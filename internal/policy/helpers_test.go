package policy

import (
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/identity"
)

// fakeSigner is a Signer with fixed attributes.
type fakeSigner struct {
	id    string
	msp   string
	roles []identity.Role
}

func (s *fakeSigner) ID() string    { return s.id }
func (s *fakeSigner) MSPID() string { return s.msp }
func (s *fakeSigner) HasRole(r identity.Role) bool {
	for _, h := range s.roles {
		if h == r {
			return true
		}
	}
	return false
}

// signer builds a fake signer from "MSPID.role[+role...][#n]". The whole
// spec is its ID, so "Org1MSP.peer" twice is one identity and
// "Org1MSP.peer#2" another peer.
func signer(t testing.TB, spec string) Signer {
	t.Helper()
	body, _, _ := strings.Cut(spec, "#")
	dot := strings.LastIndexByte(body, '.')
	if dot < 0 {
		t.Fatalf("bad signer spec %q", spec)
	}
	s := &fakeSigner{id: spec, msp: body[:dot]}
	for _, name := range strings.Split(body[dot+1:], "+") {
		r, err := identity.ParseRole(name)
		if err != nil {
			t.Fatalf("bad signer spec %q: %v", spec, err)
		}
		s.roles = append(s.roles, r)
	}
	return s
}

func signers(t testing.TB, specs ...string) []Signer {
	t.Helper()
	out := make([]Signer, len(specs))
	for i, s := range specs {
		out[i] = signer(t, s)
	}
	return out
}

func principals(t testing.TB, specs ...string) []Principal {
	t.Helper()
	var out []Principal
	for _, s := range specs {
		p, err := ParsePrincipal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func principalStrings(ps []Principal) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
