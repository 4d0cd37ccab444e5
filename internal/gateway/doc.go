// Package gateway is the client-facing Gateway service of a Chorus peer,
// wire-compatible with Hyperledger Fabric's (gateway.Gateway: Evaluate,
// Endorse, Submit, CommitStatus, ChaincodeEvents), so that Fabric's
// Gateway clients (Go, Node, Java) and Hyperledger Caliper work unchanged.
//
// Access follows Fabric: Evaluate and ChaincodeEvents require the channel's
// Readers policy, Endorse and Submit its Writers policy, and CommitStatus a
// request signed by the identity it names. Endorse chooses the endorsers:
// the smallest set of organizations whose peers together satisfy the
// contract's endorsement policy, this peer's organization first, the others
// reached at the Gateway endpoints the channel configuration lists, over
// mutual TLS. When an organization is unavailable (its peers cannot be
// reached, do not answer within peer.endorseTimeout, answer 503, or answer
// without an endorsement), Endorse plans again without it, keeping the
// endorsements it has, as long as the policy can be met without that
// organization; a contract's error or an endorser's refusal is final, and
// so is any failure when the client named the organizations. For 10 s
// after, plans leave an unavailable organization out when they can do
// without it, so that each request does not wait for it again. The responses must be byte-identical; when they are
// not, the error says which keys differ. Submit hands the client-signed
// transaction to the ordering service with failover across orderers.
//
// Errors carry the gRPC codes and gateway.ErrorDetail entries Fabric's
// clients decode (FABRIC-WIRE §1.8). At most Options.Concurrency requests
// run at once; beyond that a request fails at once with ResourceExhausted.
//
// A Server is safe for concurrent use; it keeps one connection per remote
// peer and one broadcast client per channel.
package gateway
