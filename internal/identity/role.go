package identity

import "fmt"

// Role is what an identity may do inside its organization. The role of an
// X.509 identity comes from the organizational units (OU) of its subject, as
// Fabric's NodeOUs define them: OU=client, OU=peer, OU=orderer, OU=admin.
type Role int

const (
	// RoleMember is satisfied by any valid identity of the organization.
	RoleMember Role = iota
	// RoleAdmin administers the organization's nodes and channels.
	RoleAdmin
	// RoleClient submits transactions through a Gateway.
	RoleClient
	// RolePeer endorses and commits transactions.
	RolePeer
	// RoleOrderer orders transactions and signs blocks.
	RoleOrderer
)

var roleNames = [...]string{"member", "admin", "client", "peer", "orderer"}

// String returns the role as written in policies: "member", "admin", ...
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole reads a role as written in policies and certificates' OUs.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), nil
		}
	}
	return 0, fmt.Errorf("identity: unknown role %q (want member, admin, client, peer or orderer)", s)
}
