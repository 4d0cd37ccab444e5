// Command assets is the sample "assets" contract as a WebAssembly module:
// Hyperledger Fabric's asset-transfer-basic (DESIGN §10), written with the
// Chorus contract SDK. Fabric's sample applications and Hyperledger
// Caliper's workloads run unchanged against it.
//
// An asset is stored under its ID as JSON, its fields in alphabetical order
// as Fabric's samples write it in every language:
//
//	{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}
//
// Functions, their arguments and payloads (Size and AppraisedValue are
// 64-bit integers, given as decimal strings):
//
//	CreateAsset(id, color, size, owner, value)  ""; error if the asset exists
//	CreateAssets(assets)                        ""; creates many at once
//	ReadAsset(id)                               the asset's JSON
//	UpdateAsset(id, color, size, owner, value)  ""; replaces the asset
//	DeleteAsset(id)                             ""
//	TransferAsset(id, newOwner)                 the previous owner
//	AssetExists(id)                             "true" or "false"
//	GetAllAssets()                              a JSON array of every asset, in ID order
//
// Every function that changes state emits an event named after itself
// whose payload is the asset's JSON: as created, as updated, as deleted
// (its last value), as transferred (with its new owner). Errors are 500
// Responses with Fabric's messages: "the asset asset1 already exists", "the
// asset asset1 does not exist".
//
// CreateAssets is Chorus's addition to Fabric's sample, for loading many
// assets quickly (chorus bench --preload-batch): its argument is a JSON
// array of assets, each with a non-empty ID and no field but the five
// above; it creates all of them or, if any exists already ("the asset
// asset1 already exists") or is given twice ("the asset asset1 is given
// twice"), none. Its event's payload is the JSON array of the IDs created.
//
// Build the module with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o samples/assets/assets.wasm ./samples/assets
//
// The built module is committed; package samples embeds it and its test
// fails when it is stale.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/chorusledger/chorus/sdk/contract"
)

// Asset is one asset. The fields are in alphabetical order so that its
// JSON is the same as Fabric's samples write in every language.
type Asset struct {
	AppraisedValue int64  `json:"AppraisedValue"`
	Color          string `json:"Color"`
	ID             string `json:"ID"`
	Owner          string `json:"Owner"`
	Size           int64  `json:"Size"`
}

// AssetID is the id of an asset being created or updated: any non-empty
// string. The router converts the argument with UnmarshalText, so an empty
// id is refused before the other arguments are converted.
type AssetID string

// UnmarshalText sets id to text, which must not be empty.
func (id *AssetID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		return errors.New("the asset id is empty")
	}
	*id = AssetID(text)
	return nil
}

// Assets is the contract. It holds no state of its own.
type Assets struct{}

func init() {
	contract.Register(Assets{},
		contract.Name("assets"),
		contract.Params("CreateAsset", "id", "color", "size", "owner", "value"),
		contract.Params("CreateAssets", "assets"),
		contract.Params("ReadAsset", "id"),
		contract.Params("UpdateAsset", "id", "color", "size", "owner", "value"),
		contract.Params("DeleteAsset", "id"),
		contract.Params("TransferAsset", "id", "newOwner"),
		contract.Params("AssetExists", "id"),
		contract.Params("GetAllAssets"),
		// Typed callers: the router calls these without reflection.
		contract.Direct(
			contract.Tx5(Assets.CreateAsset),
			contract.Tx1(Assets.CreateAssets),
			contract.TxR1(Assets.ReadAsset),
			contract.Tx5(Assets.UpdateAsset),
			contract.Tx1(Assets.DeleteAsset),
			contract.TxR2(Assets.TransferAsset),
			contract.TxR1(Assets.AssetExists),
			contract.TxR0(Assets.GetAllAssets),
		),
	)
}

// main is never called: the module is a reactor, and the host calls the
// exports of package contract.
func main() {}

// CreateAsset creates an asset that does not exist yet.
func (Assets) CreateAsset(ctx contract.Context, id AssetID, color string, size int64, owner string, value int64) error {
	exists, err := assetExists(ctx.GetStub(), string(id))
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("the asset %s already exists", id)
	}
	return putAsset(ctx.GetStub(), "CreateAsset", Asset{ID: string(id), Color: color, Size: size, Owner: owner, AppraisedValue: value})
}

// AssetList is the argument of CreateAssets: a JSON array of at least one
// asset. The router converts the argument with UnmarshalText, which is
// stricter than encoding/json's defaults, since a bulk load should not
// silently drop what its caller misspelt: a field that is not one of
// Asset's is refused, and every ID must be non-empty. Names match as
// encoding/json matches them, without regard to case, and a field given
// twice keeps its last value.
type AssetList []Asset

// UnmarshalText sets l to the assets of the JSON array text.
func (l *AssetList) UnmarshalText(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var list []Asset // not AssetList, whose UnmarshalText json would call
	if err := dec.Decode(&list); err != nil {
		return fmt.Errorf("the assets are not a JSON array of assets: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the assets are not a JSON array of assets: data after the array")
	}
	if len(list) == 0 {
		return errors.New("no assets given")
	}
	for i, a := range list {
		if a.ID == "" {
			return fmt.Errorf("asset %d of the array has an empty id", i)
		}
	}
	*l = list
	return nil
}

// CreateAssets creates every asset of assets, none of which may exist yet
// or be given twice; it creates none if one fails.
func (Assets) CreateAssets(ctx contract.Context, assets AssetList) error {
	stub := ctx.GetStub()
	seen := make(map[string]bool, len(assets))
	for _, a := range assets {
		if seen[a.ID] {
			return fmt.Errorf("the asset %s is given twice", a.ID)
		}
		seen[a.ID] = true
		exists, err := assetExists(stub, a.ID)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("the asset %s already exists", a.ID)
		}
	}
	ids := make([]string, 0, len(assets))
	for _, a := range assets {
		if _, err := storeAsset(stub, a); err != nil {
			return err
		}
		ids = append(ids, a.ID)
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return stub.SetEvent("CreateAssets", b)
}

// ReadAsset returns the asset id.
func (Assets) ReadAsset(ctx contract.Context, id string) (*Asset, error) {
	a, err := getAsset(ctx.GetStub(), id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAsset replaces an existing asset.
func (Assets) UpdateAsset(ctx contract.Context, id AssetID, color string, size int64, owner string, value int64) error {
	exists, err := assetExists(ctx.GetStub(), string(id))
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("the asset %s does not exist", id)
	}
	return putAsset(ctx.GetStub(), "UpdateAsset", Asset{ID: string(id), Color: color, Size: size, Owner: owner, AppraisedValue: value})
}

// DeleteAsset deletes an asset; its event carries the asset's last value.
func (Assets) DeleteAsset(ctx contract.Context, id string) error {
	stub := ctx.GetStub()
	b, err := stub.GetState(id)
	if err != nil {
		return fmt.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return fmt.Errorf("the asset %s does not exist", id)
	}
	if err := stub.DelState(id); err != nil {
		return err
	}
	return stub.SetEvent("DeleteAsset", b)
}

// TransferAsset gives an asset to newOwner and returns its previous owner.
func (Assets) TransferAsset(ctx contract.Context, id, newOwner string) (string, error) {
	a, err := getAsset(ctx.GetStub(), id)
	if err != nil {
		return "", err
	}
	oldOwner := a.Owner
	a.Owner = newOwner
	if err := putAsset(ctx.GetStub(), "TransferAsset", a); err != nil {
		return "", err
	}
	return oldOwner, nil
}

// AssetExists reports whether the asset id exists.
func (Assets) AssetExists(ctx contract.Context, id string) (bool, error) {
	return assetExists(ctx.GetStub(), id)
}

// GetAllAssets returns every asset, in ID order.
func (Assets) GetAllAssets(ctx contract.Context) ([]Asset, error) {
	it, err := ctx.GetStub().GetStateByRange("", "")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	all := []Asset{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var a Asset
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, fmt.Errorf("the asset %s is not valid asset JSON: %v", kv.Key, err)
		}
		all = append(all, a)
	}
	return all, nil
}

func assetExists(stub contract.Stub, id string) (bool, error) {
	b, err := stub.GetState(id)
	if err != nil {
		return false, fmt.Errorf("failed to read from world state: %w", err)
	}
	return b != nil, nil
}

func getAsset(stub contract.Stub, id string) (Asset, error) {
	b, err := stub.GetState(id)
	if err != nil {
		return Asset{}, fmt.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return Asset{}, fmt.Errorf("the asset %s does not exist", id)
	}
	var a Asset
	if err := json.Unmarshal(b, &a); err != nil {
		return Asset{}, fmt.Errorf("the asset %s is not valid asset JSON: %w", id, err)
	}
	return a, nil
}

// putAsset writes a and emits the event event with its JSON.
func putAsset(stub contract.Stub, event string, a Asset) error {
	b, err := storeAsset(stub, a)
	if err != nil {
		return err
	}
	return stub.SetEvent(event, b)
}

// storeAsset writes a under its ID and returns its JSON.
func storeAsset(stub contract.Stub, a Asset) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding the asset %s: %w", a.ID, err)
	}
	if err := stub.PutState(a.ID, b); err != nil {
		return nil, fmt.Errorf("failed to put to world state: %w", err)
	}
	return b, nil
}
