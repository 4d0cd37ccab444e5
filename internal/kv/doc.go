// Package kv is the only package of Chorus that imports Pebble. It gives
// the rest of the node a small ordered key-value store: point reads, bounded
// iterators, consistent snapshots and atomic batches that are synced to
// disk before Commit returns.
//
// One database per node holds every channel's blocks, world state and key
// history and the orderer's consensus log; callers keep their keys apart by
// prefix. Keys beginning with 0x00 are reserved for this package, which
// stores the on-disk schema version there: Open refuses a database written
// by a newer schema with a clear message, and stamps a new one.
//
// Crash safety is tested, not hoped for: Options.FS takes any filesystem,
// and NewCrashableMemFS with SyncHooks lets a test observe every sync point
// and clone the filesystem as a power cut at that instant would leave it
// (synced data kept, unsynced data lost).
//
// A DB is safe for concurrent use. A Batch, an Iter and a Snapshot are not:
// each belongs to one goroutine.
package kv
