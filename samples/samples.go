// Package samples holds the sample contracts, each a WebAssembly module
// built from a package main in a subdirectory with the Chorus contract SDK
// (sdk/contract):
//
//	assets  Fabric's asset-transfer-basic, deployed by `chorus up`
//	token   an ERC-20 token, after Fabric's token-erc-20
//
// The assets module is built and committed, so that the chorus binary
// embeds it without a WebAssembly toolchain step; the test of this package
// fails when it is stale.
package samples

import _ "embed"

// AssetsBuildCommand builds AssetsModule, from the repository's root. Go
// builds are reproducible: the same toolchain, source and flags give the
// same bytes.
const AssetsBuildCommand = "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o samples/assets/assets.wasm ./samples/assets"

// AssetsModule is the assets contract, samples/assets/assets.wasm.
//
//go:embed assets/assets.wasm
var AssetsModule []byte
