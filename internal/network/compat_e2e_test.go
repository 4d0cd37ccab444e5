package network_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/network"
)

// TestE2EFabricNodeClient drives a `chorus up` network with Hyperledger Fabric's
// own Gateway client for Node.js (@hyperledger/fabric-gateway 1.11.0,
// pinned with a committed lockfile in test/compat/node-client), over TLS,
// as Org1MSP's client, with the assets contract under
// AND('Org1MSP.peer','Org2MSP.peer'): evaluate; submit and wait for
// commit; endorse → submit → getStatus with the transaction id checked; a
// failed evaluate and a failed endorsement as Fabric's error types with
// details; a stale read as commit code 11; contract events.
func TestE2EFabricNodeClient(t *testing.T) {
	needE2E(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("Node.js is not installed; .ci/run installs it")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed; .ci/run installs it")
	}
	dir, err := filepath.Abs("../../test/compat/node-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@hyperledger", "fabric-gateway")); err != nil {
		install := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	netDir, _ := upNetwork(t)
	n, err := network.Load(netDir)
	if err != nil {
		t.Fatal(err)
	}
	run := exec.Command(node, "test.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "CHORUS_PROFILE="+n.ProfilePath("Org1MSP", false))
	out, err := run.CombinedOutput()
	t.Logf("node test.js:\n%s", out)
	if err != nil {
		t.Fatalf("the Fabric Node client failed against Chorus: %v", err)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatal("the script did not finish its checks")
	}
}
