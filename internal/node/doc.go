// Package node is the process around a Chorus orderer or peer: its
// configuration, its logger and its response to signals. Its subpackages
// hold the rest of the process's infrastructure: transport (TLS and the
// gRPC options of every listener and link) and ops (the operations
// endpoint and the certificate expiry watch).
//
// # Configuration
//
// A node reads one YAML file (LoadConfig). Fields absent from it take their
// value from Default; environment variables override both. Fields, types
// and defaults are documented on Config and its sections; in short:
//
//	role: orderer                        # or peer
//	name: orderer0.example.com
//	mspID: OrdererMSP
//	dataDir: data                        # relative to this file
//	listen:
//	  address: 0.0.0.0:7050              # Broadcast, Deliver, cluster (orderer) / Gateway, Endorser (peer)
//	  adminAddress: 127.0.0.1:7053       # admin API, mutual TLS, OU=admin
//	  operationsAddress: 127.0.0.1:9443  # /metrics /healthz /readyz /version /logspec
//	identity: {certFile: msp/signcert.pem, keyFile: msp/key.pem}
//	tls:
//	  certFile: tls/server.pem
//	  keyFile: tls/server.key
//	  rootCAFiles: [tls/ca.pem]          # other nodes' TLS CAs
//	  clientRootCAFiles: [tls/ca.pem]    # clients' TLS CAs
//	admin: {clientRootCAFiles: [msp/ca.pem]}
//	operations: {tls: false, clientRootCAFiles: [], profiling: false}  # profiling serves /debug/pprof/
//	log: {level: info, format: auto}     # json | text | auto
//	orderer: {maxInflightPerStream: 1000, maxInflightTotal: 20000, broadcastTimeout: 30s, clusterDialTimeout: 10s,
//	          leaderFollowsSubmissions: true}  # a Raft leader hands leadership to the orderer most envelopes arrive through
//	peer: {gatewayConcurrency: 5000, endorseTimeout: 30s, commitStatusTimeout: 2m, broadcastTimeout: 10s,
//	       contractMemoryReset: auto}  # auto | compare
//
// Strictness: a field the schema does not know, a field set twice, a value
// of the wrong type, and a section of the other role (peer: in an
// orderer's file) are errors. Durations carry a unit (30s, 2m).
//
// Environment: each field can be set by CHORUS_ followed by its path in
// upper case with dots as underscores: CHORUS_LISTEN_ADDRESS,
// CHORUS_LOG_LEVEL, CHORUS_MSPID, CHORUS_ORDERER_MAXINFLIGHTTOTAL. Lists
// are comma-separated (CHORUS_TLS_ROOTCAFILES=a.pem,b.pem). A variable set
// to the empty string is ignored, so that templates may leave one blank. A
// variable that starts with a section's name but names no field
// (CHORUS_LISTEN_ADRESS) is an error; other CHORUS_ variables, such as one
// the command line reads, are left alone.
//
// Paths: relative paths in the file are resolved against the file's
// directory, relative paths in the environment against the working
// directory.
//
// Errors: LoadConfig and Validate report every problem at once, each with
// its field's path and where the value came from:
//
//	node: config /etc/chorus/orderer.yaml: 2 problems:
//		listen.address: missing port in address "localhost" (line 6)
//		tls.certFile: open /etc/chorus/tls/server.pem: no such file or directory (CHORUS_TLS_CERTFILE)
//
// Validation reads the files the configuration names: certificates must
// parse and not be expired, each key must match its certificate, and the
// signing certificate's OU must be the node's role.
//
// # Logging
//
// NewLogger builds the process's one *slog.Logger, which is passed down to
// every component (there is no global logger), and the slog.LevelVar that
// the operations endpoint's /logspec changes at run time. JSON by default,
// text when asked for or, with format auto, when writing to a terminal (a
// character device).
//
// # Draining on SIGTERM
//
// SignalContext's context is cancelled by the first SIGTERM or SIGINT. The
// process then drains, and this is the contract every component keeps:
//
//  1. Stop accepting work: listeners stop taking connections and RPCs
//     (grpc.Server.GracefulStop with a deadline, then Stop); Broadcast
//     refuses new envelopes with SERVICE_UNAVAILABLE; the Gateway refuses
//     new proposals; /readyz answers 503, so that load balancers move away.
//  2. Finish the block in hand: a block being written, validated or
//     committed is completed and made durable, never abandoned half-way;
//     a proposal or envelope not yet in a block is answered with an error
//     (its client retries elsewhere); Deliver streams end after the block
//     they are sending.
//  3. Sync: the database and any block files are synced and closed, so
//     that the next start finds them consistent without recovery work.
//  4. Exit 0. A drain that fails exits non-zero after logging why.
//
// The drain is bounded (30 s is a good default, below Kubernetes' default
// grace period); a second SIGTERM or SIGINT ends the process at once. Crash
// safety does not depend on the drain: a node killed at any instant
// restarts consistent. The drain only makes stopping quick and quiet.
//
// # Concurrency
//
// Config is a plain value: build it, validate it, then share it read-only.
// The package has no global mutable state. SignalContext starts one
// goroutine, which ends at the first signal or when stop is called or the
// parent is done.
package node
