package policy

import (
	"fmt"
	"strings"

	"github.com/chorusledger/chorus/internal/identity"
)

// Signer is one identity whose signature the caller has already verified.
// The policy package never checks signatures or certificates: it decides
// whether the given set of signers meets a policy.
//
// Implementations must be safe to call from several goroutines if the same
// signer is evaluated concurrently, and their answers must not change during
// an evaluation.
type Signer interface {
	// ID identifies the identity: two signers with the same ID are one
	// identity and count once. The serialized identity (as a string) or a
	// hash of the certificate are good choices. It is called once per signer
	// and evaluation.
	ID() string
	// MSPID is the organization the identity belongs to.
	MSPID() string
	// HasRole reports whether the identity holds the role in its
	// organization. It is never asked about RoleMember: every signer is a
	// member of its own organization.
	HasRole(r identity.Role) bool
}

// Principal is a role within one organization, written MSPID.role in
// policies: Org1MSP.peer, Org2MSP.admin, OrdererMSP.orderer.
type Principal struct {
	MSPID string
	Role  identity.Role
}

// String returns the principal as written in policies, without quotes:
// "Org1MSP.peer".
func (p Principal) String() string { return p.MSPID + "." + p.Role.String() }

// SatisfiedBy reports whether the signer matches the principal: it belongs
// to the principal's organization and, unless the principal's role is
// member, holds the principal's role.
func (p Principal) SatisfiedBy(s Signer) bool {
	return s.MSPID() == p.MSPID && (p.Role == identity.RoleMember || s.HasRole(p.Role))
}

// Validate checks that the MSP id is well formed and the role is one of the
// five roles.
func (p Principal) Validate() error {
	if err := checkMSPID(p.MSPID); err != nil {
		return err
	}
	if p.Role < identity.RoleMember || p.Role > identity.RoleOrderer {
		return fmt.Errorf("policy: principal %s: unknown role %d", p, int(p.Role))
	}
	return nil
}

// ParsePrincipal reads a principal written MSPID.role, without quotes. The
// MSP id is everything before the last dot.
func ParsePrincipal(s string) (Principal, error) {
	p, _, err := parsePrincipal(s)
	if err != nil {
		return Principal{}, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// parsePrincipal returns the principal or an error message without prefix,
// together with the byte offset inside s that the error is about.
func parsePrincipal(s string) (Principal, int, error) {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return Principal{}, 0, fmt.Errorf("principal %q is not MSPID.role", s)
	}
	mspID, roleName := s[:dot], s[dot+1:]
	if mspID == "" {
		return Principal{}, 0, fmt.Errorf("principal %q has an empty MSP id", s)
	}
	if i := invalidMSPIDByte(mspID); i >= 0 {
		return Principal{}, i, fmt.Errorf("invalid character %q in MSP id of principal %q (want letters, digits, '.' and '-')", mspID[i], s)
	}
	role, err := identity.ParseRole(roleName)
	if err != nil {
		return Principal{}, dot + 1, fmt.Errorf("unknown role %q in principal %q (want member, admin, client, peer or orderer)", roleName, s)
	}
	return Principal{MSPID: mspID, Role: role}, 0, nil
}

// checkMSPID accepts the MSP ids that Fabric's policy language accepts:
// ASCII letters, digits, '.' and '-'.
func checkMSPID(id string) error {
	if id == "" {
		return fmt.Errorf("policy: empty MSP id")
	}
	if i := invalidMSPIDByte(id); i >= 0 {
		return fmt.Errorf("policy: invalid character %q in MSP id %q (want letters, digits, '.' and '-')", id[i], id)
	}
	return nil
}

// invalidMSPIDByte returns the offset of the first byte that may not appear
// in an MSP id, or -1.
func invalidMSPIDByte(id string) int {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isAlnum(c) && c != '.' && c != '-' {
			return i
		}
	}
	return -1
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
