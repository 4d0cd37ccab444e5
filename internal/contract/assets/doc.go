// Package assets is the sample "assets" contract, as a native contract: a
// stepping stone that WebAssembly will replace. It has the semantics of
// Hyperledger Fabric's asset-transfer-basic sample (DESIGN §10), so that
// Fabric's sample applications and Hyperledger Caliper's workloads run
// unchanged against it.
//
// An asset is stored under its ID, as JSON with its fields in
// alphabetical order (as Fabric's Go sample writes it, for the same bytes
// in every language):
//
//	{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}
//
// Size and AppraisedValue are 64-bit integers, given as decimal strings.
//
// Functions, their arguments and payloads:
//
//	CreateAsset(id, color, size, owner, value)  ""; error if the asset exists
//	ReadAsset(id)                               the asset's JSON
//	UpdateAsset(id, color, size, owner, value)  ""; replaces the asset
//	DeleteAsset(id)                             ""
//	TransferAsset(id, newOwner)                 the previous owner
//	AssetExists(id)                             "true" or "false"
//	GetAllAssets()                              a JSON array of every asset, in ID order
//
// Every function that changes state emits an event named after itself,
// whose payload is the asset's JSON: as created, as updated, as deleted
// (its last value), as transferred (with its new owner).
//
// Errors are 500 Responses with Fabric's messages: "the asset asset1
// already exists", "the asset asset1 does not exist"; arguments are checked
// first: "CreateAsset takes 5 arguments (id, color, size, owner, value);
// got 3", "CreateAsset: size "big" is not an integer".
//
// The contract holds no state of its own and is safe for concurrent use.
package assets
