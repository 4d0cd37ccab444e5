// Package commonpb holds the generated Go for Fabric's "common" protobuf
// package: envelopes, payloads, headers, blocks and their metadata, and the
// channel configuration messages of Fabric. Generated from the .proto files
// beside it by `make proto`; do not edit the .pb.go files.
package commonpb
