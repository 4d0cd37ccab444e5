// Package network generates and runs local Chorus networks: keys,
// certificates and configuration for a consortium of organizations, each
// node started as its own operating-system process, and the channel
// created and joined. `chorus up` and the end-to-end tests use it.
//
// A network lives in one directory:
//
//	network.json                      what was generated: nodes, roles, ports, paths
//	crypto/<MSPID>/ca/                the organization's CA (cert.pem, key.pem 0600)
//	crypto/<MSPID>/tlsca/             its TLS CA
//	crypto/<MSPID>/users/<name>/      client and admin identities (cert.pem, key.pem)
//	nodes/<node>/config.yaml          each node's configuration
//	nodes/<node>/{msp,tls,data}/      its identity, TLS key pair and database
//	channels/<channel>.yaml, .block   the channel definition and genesis block
//	logs/<node>.log                   each node's log
//	run/<node>.pid                    the process id of a running node
//
// Process ids are checked against the running process (its command line
// must name the node's configuration file) before they are trusted, so a
// stale pid file never makes the launcher signal an unrelated process.
package network
