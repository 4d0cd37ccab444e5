// Package policy is Chorus's policy language: it parses policies, decides
// whether a set of signers meets them, and, when they do not, says which
// principals were missing.
//
// Two kinds of policy exist, as in Hyperledger Fabric. A signature policy
// is an expression over principals, such as
//
//	AND('Org1MSP.peer','Org2MSP.peer')
//
// and is used for endorsement policies and wherever particular signers are
// required. An implicit policy, such as
//
//	MAJORITY Admins
//
// combines a policy that every organization of the channel defines for
// itself. Both implement [Policy]: Evaluate(signers) returns nil when the
// signers meet the policy and a [*NotSatisfiedError] when they do not.
//
// # Principals
//
// A principal is a role within an organization, written MSPID.role:
//
//	Org1MSP.peer    a peer of Org1MSP
//	Org2MSP.admin   an administrator of Org2MSP
//	Org1MSP.member  any identity of Org1MSP, whatever its role
//
// The roles are member, admin, client, peer and orderer (see
// identity.Role); an identity's role comes from the OU of its certificate.
// The MSP id is everything before the last dot and is made of ASCII letters,
// digits, '.' and '-', as in Fabric. A signer meets a principal when it
// belongs to the principal's organization and, unless the role is member,
// holds the role.
//
// # Signature policies
//
// The grammar, in which whitespace (space, tab, newline) may appear between
// any two tokens:
//
//	policy    = expr .
//	expr      = principal | gate .
//	gate      = ( "AND" | "OR" ) "(" expr { "," expr } ")"
//	          | "OutOf" "(" count "," expr { "," expr } ")" .
//	count     = integer | quote integer quote .
//	principal = quote mspid "." role quote .
//	quote     = "'" | `"` .   (a string closes with the quote that opened it)
//
// Gate names are case-insensitive (AND, And, and, outof, OUTOF, ...).
// AND(a, b, ...) needs every rule, OR(a, b, ...) needs one, and
// OutOf(n, a, b, ...) needs n of them, where 1 <= n <= the number of rules.
// Gates nest at most [MaxDepth] deep. A lone principal is a policy too.
// [Parse] returns the syntax tree ([*Gate] and [*SignedBy] nodes, see
// [Expr]); errors are [*SyntaxError] values naming the byte offset of the
// problem. AND('Org1MSP.peer' 'Org2MSP.peer') gives
//
//	policy: at offset 19: expected ',' or ')', found string 'Org2MSP.peer'
//
// Every expression has one canonical text, which [Expr.String] and
// [SignaturePolicy.String] return: AND for a gate that needs all of its
// rules, OR for one that needs one (a gate of one rule is written OR),
// OutOf(n,...) otherwise; single quotes; no spaces:
//
//	OR('Org1MSP.member',AND('Org2MSP.admin','Org3MSP.client'))
//	OutOf(2,'A.peer','B.peer','C.peer')
//
// The canonical text parses back to itself, and converting through Fabric's
// SignaturePolicyEnvelope keeps it unchanged.
//
// # Evaluation
//
// Evaluation takes signers whose signatures the caller has verified (see
// [Signer]). Signers with the same ID are one identity and count once, and
// one signer meets at most one principal of the expression: the same peer
// signing twice does not satisfy AND('Org1MSP.peer','Org1MSP.peer'), while
// two different peers of Org1MSP do.
//
// Precisely: the signers meet a signature policy when there is an
// assignment of distinct signers to some of its leaves, each signer meeting
// its leaf's principal, such that the expression is true when exactly the
// assigned leaves are true.
//
// Fabric decides differently. Its evaluator (cauthdsl) is greedy: each leaf
// takes the first unused signer that matches it, and a gate keeps the
// signers of every rule that was met, even beyond the n it needs. Whenever
// Fabric's evaluator accepts, such an assignment exists, so Chorus accepts
// every signer set Fabric accepts; it also accepts some that Fabric rejects
// depending on order, such as AND('Org1MSP.member','Org1MSP.peer') signed by
// a peer then an admin of Org1MSP. All Chorus peers run the same rule, so
// they agree with each other.
//
// Evaluation is exact, whatever the order of the signers and of the rules,
// within a bound on its work. Evaluate decides in stages, cheapest first:
//
//  1. Fabric's greedy assignment, linear in the size of the policy. When it
//     succeeds an assignment exists, so every signer set Fabric accepts is
//     settled here, without allocating.
//  2. The expression with signers allowed to count for several principals.
//     When even that fails, no assignment exists.
//  3. A second greedy assignment, in which each leaf takes, of the unused
//     signers that match it, the one matching the fewest of the policy's
//     principals. When it succeeds, the policy is met.
//  4. An exact search: bottom up, the minimal numbers of leaves per
//     principal that meet each rule and can be given distinct signers
//     (Hall's condition, checked per organization). The search is bounded
//     (about four million steps); past the bound the policy counts as not
//     met and the error matches [ErrEvaluationLimit]. Only signer sets that
//     Fabric rejects get this far.
//
// When a signature policy is not met, the error follows the assignment of
// stage 3 and names, per unmet gate, what it needed, what it had and what
// was missing:
//
//	policy: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org2MSP.peer
//	policy: OutOf(2,'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer') not satisfied:
//	    need 2 of [Org1MSP.peer Org2MSP.peer Org3MSP.peer], have 1 (Org1MSP.peer);
//	    missing one of Org2MSP.peer, Org3MSP.peer
//
// A nested gate that was not met is followed by its own explanation in
// brackets. A missing principal whose only matching signers were already
// counted is marked "(each signer counts once)". [NotSatisfiedError.Missing] holds the
// missing principals for programs, such as a peer recording why an
// endorsement policy failed.
//
// # Implicit policies
//
// An implicit policy, written RULE NAME ([ParseImplicit]), is met when ANY
// (one), ALL, or a MAJORITY (more than half) of the organizations in its
// scope meet their own policy called NAME. Each organization's policy is
// evaluated on all the signers. Every organization has the policies
// Readers, Writers, Admins and Endorsement, by default ([DefaultOrgPolicies]):
//
//	Readers      OR('X.admin','X.peer','X.client','X.orderer')
//	Writers      OR('X.admin','X.client'), plus 'X.orderer' for orderer organizations
//	Admins       OR('X.admin')
//	Endorsement  OR('X.peer')
//
// and its configuration may replace them or add others
// ([NewOrganization], [OrganizationFromConfig]). The error of an unmet
// implicit policy names the organizations that did not meet their policy:
//
//	policy: MAJORITY Admins not satisfied: 1 of 3 organizations (Org1MSP)
//	    satisfied, need 2; not satisfied: Org2MSP, Org3MSP
//
// # Configuration and Fabric's encoding
//
// [Compile] turns a policy of Chorus's channel configuration
// (configpb.Policy) into a [Policy], given the channel's organizations;
// [ChannelPolicies] compiles them all. [SignaturePolicy.Envelope] and
// [FromEnvelope] convert to and from Fabric's SignaturePolicyEnvelope, the
// form of endorsement policies in Fabric's chaincode definitions; the
// envelope Chorus writes is the one Fabric's own parser builds for the same
// text.
//
// Policies are immutable once built and safe for concurrent use; the
// package keeps no global state and starts no goroutines.
package policy
