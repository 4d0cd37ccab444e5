// Package cid reads the identity of a transaction's creator: Fabric's
// pkg/cid (client identity) for Chorus contracts, with the same results,
// so that ids computed by Fabric chaincode and by Chorus contracts are the
// same strings.
//
// The creator is an msp.SerializedIdentity whose id_bytes hold an X.509
// certificate in PEM. It is parsed with a small protobuf reader and
// crypto/x509: the package imports nothing but the standard library.
// Importing it adds crypto/x509 to a contract's module (about 3 MB), so
// package contract leaves it out and contracts import it when they need it.
package cid
