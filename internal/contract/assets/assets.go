package assets

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/chorusledger/chorus/internal/contract"
)

// Name is the name under which local networks define and install the
// sample.
const Name = "assets"

// Asset is one asset. The fields are in alphabetical order so that its
// JSON is the same as Fabric's samples write in every language.
type Asset struct {
	AppraisedValue int64  `json:"AppraisedValue"`
	Color          string `json:"Color"`
	ID             string `json:"ID"`
	Owner          string `json:"Owner"`
	Size           int64  `json:"Size"`
}

// Contract is the assets contract. The zero value is ready to use.
type Contract struct{}

// Invoke runs one function of the contract.
func (Contract) Invoke(stub contract.Stub) contract.Response {
	fn, args := stub.Function(), stub.Args()
	switch fn {
	case "CreateAsset":
		if r, ok := checkArgs(fn, args, "id", "color", "size", "owner", "value"); !ok {
			return r
		}
		return createAsset(stub, args)
	case "ReadAsset":
		if r, ok := checkArgs(fn, args, "id"); !ok {
			return r
		}
		return readAsset(stub, string(args[0]))
	case "UpdateAsset":
		if r, ok := checkArgs(fn, args, "id", "color", "size", "owner", "value"); !ok {
			return r
		}
		return updateAsset(stub, args)
	case "DeleteAsset":
		if r, ok := checkArgs(fn, args, "id"); !ok {
			return r
		}
		return deleteAsset(stub, string(args[0]))
	case "TransferAsset":
		if r, ok := checkArgs(fn, args, "id", "newOwner"); !ok {
			return r
		}
		return transferAsset(stub, string(args[0]), string(args[1]))
	case "AssetExists":
		if r, ok := checkArgs(fn, args, "id"); !ok {
			return r
		}
		exists, err := assetExists(stub, string(args[0]))
		if err != nil {
			return contract.Errorf("%w", err)
		}
		return contract.Success([]byte(strconv.FormatBool(exists)))
	case "GetAllAssets":
		if r, ok := checkArgs(fn, args); !ok {
			return r
		}
		return getAllAssets(stub)
	case "":
		return contract.Errorf("no function given; the assets contract has %s", functionList)
	default:
		return contract.Errorf("unknown function %q; the assets contract has %s", fn, functionList)
	}
}

const functionList = "CreateAsset, ReadAsset, UpdateAsset, DeleteAsset, TransferAsset, AssetExists and GetAllAssets"

// checkArgs checks that fn got one argument per name.
func checkArgs(fn string, args [][]byte, names ...string) (contract.Response, bool) {
	if len(args) == len(names) {
		return contract.Response{}, true
	}
	switch len(names) {
	case 0:
		return contract.Errorf("%s takes no arguments; got %d", fn, len(args)), false
	case 1:
		return contract.Errorf("%s takes 1 argument (%s); got %d", fn, names[0], len(args)), false
	default:
		return contract.Errorf("%s takes %d arguments (%s); got %d", fn, len(names), strings.Join(names, ", "), len(args)), false
	}
}

// parseAsset reads the arguments (id, color, size, owner, value) of fn.
func parseAsset(fn string, args [][]byte) (Asset, error) {
	a := Asset{ID: string(args[0]), Color: string(args[1]), Owner: string(args[3])}
	if a.ID == "" {
		return Asset{}, fmt.Errorf("%s: the asset id is empty", fn)
	}
	var err error
	if a.Size, err = parseInt(fn, "size", args[2]); err != nil {
		return Asset{}, err
	}
	if a.AppraisedValue, err = parseInt(fn, "value", args[4]); err != nil {
		return Asset{}, err
	}
	return a, nil
}

func parseInt(fn, name string, arg []byte) (int64, error) {
	n, err := strconv.ParseInt(string(arg), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %q is not an integer", fn, name, arg)
	}
	return n, nil
}

func createAsset(stub contract.Stub, args [][]byte) contract.Response {
	a, err := parseAsset("CreateAsset", args)
	if err != nil {
		return contract.Errorf("%w", err)
	}
	exists, err := assetExists(stub, a.ID)
	if err != nil {
		return contract.Errorf("%w", err)
	}
	if exists {
		return contract.Errorf("the asset %s already exists", a.ID)
	}
	return putAsset(stub, "CreateAsset", a, nil)
}

func readAsset(stub contract.Stub, id string) contract.Response {
	b, err := stub.GetState(id)
	if err != nil {
		return contract.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return contract.Errorf("the asset %s does not exist", id)
	}
	return contract.Success(b)
}

func updateAsset(stub contract.Stub, args [][]byte) contract.Response {
	a, err := parseAsset("UpdateAsset", args)
	if err != nil {
		return contract.Errorf("%w", err)
	}
	exists, err := assetExists(stub, a.ID)
	if err != nil {
		return contract.Errorf("%w", err)
	}
	if !exists {
		return contract.Errorf("the asset %s does not exist", a.ID)
	}
	return putAsset(stub, "UpdateAsset", a, nil)
}

func deleteAsset(stub contract.Stub, id string) contract.Response {
	b, err := stub.GetState(id)
	if err != nil {
		return contract.Errorf("failed to read from world state: %w", err)
	}
	if b == nil {
		return contract.Errorf("the asset %s does not exist", id)
	}
	if err := stub.DelState(id); err != nil {
		return contract.Errorf("%w", err)
	}
	if err := stub.SetEvent("DeleteAsset", b); err != nil {
		return contract.Errorf("%w", err)
	}
	return contract.Success(nil)
}

func transferAsset(stub contract.Stub, id, newOwner string) contract.Response {
	a, err := getAsset(stub, id)
	if err != nil {
		return contract.Errorf("%w", err)
	}
	oldOwner := a.Owner
	a.Owner = newOwner
	return putAsset(stub, "TransferAsset", a, []byte(oldOwner))
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

// putAsset writes a, emits the event event with its JSON, and answers
// with payload.
func putAsset(stub contract.Stub, event string, a Asset, payload []byte) contract.Response {
	b, err := json.Marshal(a)
	if err != nil {
		return contract.Errorf("encoding the asset %s: %w", a.ID, err)
	}
	if err := stub.PutState(a.ID, b); err != nil {
		return contract.Errorf("failed to put to world state: %w", err)
	}
	if err := stub.SetEvent(event, b); err != nil {
		return contract.Errorf("%w", err)
	}
	return contract.Success(payload)
}

func getAllAssets(stub contract.Stub) contract.Response {
	it, err := stub.GetStateByRange("", "")
	if err != nil {
		return contract.Errorf("%w", err)
	}
	defer it.Close()
	all := []Asset{}
	for it.Next() {
		var a Asset
		if err := json.Unmarshal(it.Value(), &a); err != nil {
			return contract.Errorf("the asset %s is not valid asset JSON: %v", it.Key(), err)
		}
		all = append(all, a)
	}
	if err := it.Err(); err != nil {
		return contract.Errorf("%w", err)
	}
	b, err := json.Marshal(all)
	if err != nil {
		return contract.Errorf("encoding the assets: %w", err)
	}
	return contract.Success(b)
}
