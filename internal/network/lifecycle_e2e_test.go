package network_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/contract/pkg"
	"github.com/chorusledger/chorus/internal/network"
	gwclient "github.com/chorusledger/chorus/sdk/client"
)

// buildPackage builds a test contract into a package file.
func buildPackage(t *testing.T, dir, label string) (string, []byte) {
	t.Helper()
	p, err := pkg.Build(dir, label)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), label+".pkg")
	if err := os.WriteFile(file, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	return file, archive
}

// TestE2EContractLifecycle exercises the Fabric 2.x lifecycle with
// WebAssembly contracts on real processes: two organizations approve and
// commit, the contract runs; an upgrade to sequence 2 changes its
// behaviour; a definition only one organization approved cannot be
// committed and the refusal names the other; a peer that replays the chain
// from block 0 rebuilds every definition.
func TestE2EContractLifecycle(t *testing.T) {
	needE2E(t)
	dir, _ := upNetwork(t)
	n, err := network.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n.Binary = chorusBinary
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	v1, _ := buildPackage(t, "testdata/greeter/v1", "greeter_1")
	v2, _ := buildPackage(t, "testdata/greeter/v2", "greeter_2")
	greet := func() string {
		t.Helper()
		out, err := chorusCLI(t, "submit", "greeter", "Greet", "Ann", "--dir", dir)
		if err != nil {
			t.Fatalf("Greet: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}

	// Sequence 1: both organizations approve, then it is committed.
	out, err := chorusCLI(t, "contract", "deploy", v1, "--name", "greeter", "--version", "1", "--policy", "OR('Org1MSP.peer','Org2MSP.peer')", "--dir", dir)
	if err != nil || !strings.Contains(out, "Org1MSP approved greeter 1 sequence 1") || !strings.Contains(out, "Org2MSP approved greeter 1 sequence 1") {
		t.Fatalf("deploy v1: %v\n%s", err, out)
	}
	if got := greet(); got != "hello, Ann" {
		t.Fatalf("v1 Greet: %q", got)
	}
	// Deploying the same again changes nothing.
	out, err = chorusCLI(t, "contract", "deploy", v1, "--name", "greeter", "--version", "1", "--policy", "OR('Org1MSP.peer','Org2MSP.peer')", "--dir", dir)
	if err != nil || !strings.Contains(out, "already committed at sequence 1") {
		t.Fatalf("deploy v1 again: %v\n%s", err, out)
	}

	// Sequence 2: a new package changes behaviour.
	out, err = chorusCLI(t, "contract", "deploy", v2, "--name", "greeter", "--version", "2", "--policy", "OR('Org1MSP.peer','Org2MSP.peer')", "--dir", dir)
	if err != nil || !strings.Contains(out, "sequence 2") {
		t.Fatalf("deploy v2: %v\n%s", err, out)
	}
	if got := greet(); got != "bonjour, Ann" {
		t.Fatalf("after the upgrade Greet answers %q, want the new version's", got)
	}

	// Sequence 3 approved by Org1 only: the commit is refused, naming
	// Org2MSP as not having approved.
	org1Admin := n.ProfilePath("Org1MSP", true)
	if out, err := chorusCLI(t, "contract", "approve", "--name", "greeter", "--version", "3", "--package", v1, "--profile", org1Admin); err != nil {
		t.Fatalf("approve as Org1: %v\n%s", err, out)
	}
	out, err = chorusCLI(t, "contract", "commit", "--name", "greeter", "--version", "3", "--package", v1, "--profile", org1Admin)
	if err == nil || !strings.Contains(out, "approved: Org1MSP; not approved: Org2MSP") {
		t.Fatalf("committing a definition only Org1 approved: %v\n%s", err, out)
	}
	t.Logf("refused as expected: %s", strings.TrimSpace(out))
	out, err = chorusCLI(t, "contract", "list", "--dir", dir, "--output", "json")
	if err != nil {
		t.Fatalf("contract list: %v\n%s", err, out)
	}
	var listed []struct {
		Name      string          `json:"name"`
		Sequence  uint64          `json:"sequence"`
		Approvals map[string]bool `json:"approvals"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("contract list --output json: %v\n%s", err, out)
	}
	found := false
	for _, c := range listed {
		if c.Name == "greeter" {
			found = true
			if c.Sequence != 2 || !c.Approvals["Org1MSP"] || !c.Approvals["Org2MSP"] {
				t.Fatalf("greeter listed as %+v, want sequence 2 approved by both", c)
			}
		}
	}
	if !found {
		t.Fatalf("greeter not listed: %s", out)
	}

	// A peer that replays the chain from block 0 rebuilds every
	// definition (its installed packages stay in its contract directory).
	definitions := func(profile string) string {
		t.Helper()
		gw, err := gwclient.Connect(profile)
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		b, err := gw.Network(n.Spec.Channel).Contract("_lifecycle").Evaluate(ctx, "QueryDefinitions")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := definitions(n.ProfilePath("Org2MSP", false))
	peer2, _ := n.Spec.Node("peer0.org2.example.com")
	if err := n.Stop(peer2, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(n.Path(peer2.DatabaseDir)); err != nil {
		t.Fatal(err)
	}
	startPeers(t, n, peer2)
	waitSameHeight(ctx, t, n)
	after := definitions(n.ProfilePath("Org2MSP", false))
	if after != before || !strings.Contains(after, `"name":"greeter","version":"2","sequence":2`) || !strings.Contains(after, `"name":"assets"`) {
		t.Fatalf("definitions after replaying from block 0:\n%s\nbefore:\n%s", after, before)
	}
	// And the rebuilt peer endorses the upgraded contract again.
	if got := greet(); got != "bonjour, Ann" {
		t.Fatalf("after the replay Greet answers %q", got)
	}
}
