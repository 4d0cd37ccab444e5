// Package transport is how Chorus nodes talk gRPC: the TLS configurations of
// servers and clients, the gRPC options every listener and every dialler
// uses, and the verified client certificate of an RPC.
//
// It is a leaf package: the roles (orderer, peer, gateway, admin) import it
// to build their listeners and links, and package node imports it to check
// configuration, so it imports neither.
//
// # Listeners
//
// A node has three gRPC-facing kinds of connection, each with its own
// client authentication:
//
//   - The client port (Broadcast and Deliver on orderers, Gateway and
//     Endorser on peers, and the cluster service on orderers) uses
//     VerifyClientCertIfGiven: a client may connect with server-side TLS
//     only, as Fabric's Gateway clients do; a certificate it presents must
//     chain to the configured CAs, and handlers read it with
//     ClientCertificate (the orderer's cluster service requires one, and
//     recognises a consenter by its public key).
//   - Links between nodes use RequireClientCert on the server and ClientTLS
//     with the node's TLS key pair on the client.
//   - The admin port uses RequireClientCert and RequireClientOU("admin"): a
//     client certificate is refused during the handshake unless it chains to
//     the admin CAs and its subject carries OU=admin.
//
// Every server accepts TLS 1.2 and 1.3 only.
//
// # Certificate renewal without restart
//
// A KeyPair reads a certificate and its key from two PEM files and reads
// them again when either file's modification time or size changes; servers
// (through tls.Config.GetCertificate) and clients (through
// GetClientCertificate) ask it for the current pair on every handshake, at
// the cost of two stat calls. Replacing the files, in place or by renaming
// new files over them (as Kubernetes does with secret volumes), is enough
// for new connections to use the renewed certificate; established
// connections keep the certificate they were made with. Until a changed
// pair parses and matches (say the certificate was written and the key not
// yet), the previous pair keeps being served and the failure is logged once
// per change. CA pools are read once, when the configuration is built.
//
// # Keepalive and message sizes
//
// ServerOptions enforces a minimum of 60 s between client pings, with or
// without active streams, as Fabric does: Caliper pings every 120 s and the
// Node shim every 110 s, which gRPC's default of 5 minutes would answer with
// GOAWAY "too_many_pings". DialOptions makes our own clients ping every
// 60 s, never more often than servers permit. Servers ping idle clients
// every 60 s too, which keeps connections open through load balancers and
// NAT that drop idle flows after a few minutes, and drops a client that does
// not answer within 20 s. Messages of up to 100 MiB are accepted and sent
// both ways (Fabric's limit), for blocks on Deliver and on cluster links.
//
// # Concurrency
//
// Everything here is safe for concurrent use. The package starts no
// goroutines and has no global mutable state.
package transport
