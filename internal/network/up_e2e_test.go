package network_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/network"
)

// chorusCLI runs the chorus binary and returns its output.
func chorusCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(chorusBinary, args...).CombinedOutput()
	return string(out), err
}

// upNetwork runs `chorus up --detach` in a fresh directory and arranges
// for `chorus down --purge` (and a kill of anything left) at the end.
func upNetwork(t *testing.T) (dir string, base int) {
	t.Helper()
	dir = t.TempDir() + "/net"
	base = freeBasePort(t, 180)
	t.Cleanup(func() {
		chorusCLI(t, "down", "--dir", dir, "--purge")
	})
	start := time.Now()
	out, err := chorusCLI(t, "up", "--dir", dir, "--base-port", fmt.Sprint(base), "--detach")
	if err != nil {
		t.Fatalf("chorus up: %v\n%s", err, out)
	}
	t.Logf("chorus up --detach: ready in %v", time.Since(start).Round(10*time.Millisecond))
	return dir, base
}

// TestE2EUpSubmitEvaluateDown drives the command line as a user would:
// up, submit CreateAsset, evaluate ReadAsset, status, down; up again keeps
// the data.
func TestE2EUpSubmitEvaluateDown(t *testing.T) {
	needE2E(t)
	dir, _ := upNetwork(t)
	if out, err := chorusCLI(t, "submit", "assets", "CreateAsset", "asset1", "blue", "5", "Tom", "300", "--dir", dir); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	out, err := chorusCLI(t, "evaluate", "assets", "ReadAsset", "asset1", "--dir", dir)
	if err != nil || !strings.Contains(out, `"Owner":"Tom"`) {
		t.Fatalf("evaluate: %v\n%s", err, out)
	}
	// A failure prints the reason and exits non-zero.
	out, err = chorusCLI(t, "submit", "assets", "CreateAsset", "asset1", "red", "1", "Eve", "1", "--dir", dir)
	if err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("a duplicate CreateAsset: %v\n%s", err, out)
	}

	out, err = chorusCLI(t, "status", "--dir", dir, "--output", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var sts []network.NodeStatus
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("status --output json: %v\n%s", err, out)
	}
	leaders := 0
	for _, s := range sts {
		if !s.Running || s.PID == 0 || s.Health != "ok" || !s.Ready || len(s.Channels) != 1 || s.Channels[0].Height < 3 {
			t.Fatalf("status of %s: %+v", s.Name, s)
		}
		if s.Role == network.RoleOrderer && s.Channels[0].RaftRole == "leader" {
			leaders++
		}
	}
	if len(sts) != 5 || leaders != 1 {
		t.Fatalf("status lists %d nodes with %d Raft leaders, want 5 and 1", len(sts), leaders)
	}

	if out, err := chorusCLI(t, "down", "--dir", dir); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	out, err = chorusCLI(t, "status", "--dir", dir, "--output", "json")
	if err != nil || strings.Contains(out, `"running": true`) {
		t.Fatalf("after down: %v\n%s", err, out)
	}
	// Up again: everything restarts with its data.
	start := time.Now()
	if out, err := chorusCLI(t, "up", "--dir", dir, "--detach"); err != nil {
		t.Fatalf("up again: %v\n%s", err, out)
	}
	t.Logf("chorus up on the existing directory: ready in %v", time.Since(start).Round(10*time.Millisecond))
	out, err = chorusCLI(t, "evaluate", "assets", "ReadAsset", "asset1", "--dir", dir)
	if err != nil || !strings.Contains(out, `"Owner":"Tom"`) {
		t.Fatalf("the asset did not survive down and up: %v\n%s", err, out)
	}

	// orderer0 hangs (SIGSTOP): its connections stay up and it answers
	// nothing. The Gateways submit to it and the peers pull blocks from it
	// (the first endpoint of each); both leave it for another orderer, and
	// a submission commits well within the command's 60 s. Before, it
	// failed at 60 s and the next one waited 20 s more, until gRPC's
	// keepalive closed the connections.
	n, err := network.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	hung := n.Nodes(network.RoleOrderer)[0]
	if err := n.Signal(hung, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Signal(hung, syscall.SIGCONT) })
	start = time.Now()
	if out, err := chorusCLI(t, "submit", "assets", "CreateAsset", "asset2", "green", "3", "Ann", "200", "--dir", dir); err != nil {
		t.Fatalf("submit with %s hung: %v\n%s", hung.Name, err, out)
	}
	t.Logf("submit with %s hung: %v", hung.Name, time.Since(start).Round(10*time.Millisecond))
	if err := n.Signal(hung, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
