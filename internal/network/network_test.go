package network_test

import (
	"net"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/network"
)

// TestStartRefusesBusyPort checks that a node is not started into ports
// another process holds, with an error that says which and what to do.
func TestStartRefusesBusyPort(t *testing.T) {
	n, err := network.Generate(network.Options{Dir: t.TempDir(), BasePort: freeBasePort(t, 180)})
	if err != nil {
		t.Fatal(err)
	}
	nd := n.Nodes(network.RoleOrderer)[0]
	l, err := net.Listen("tcp", nd.AdminAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n.Binary = "/nonexistent/chorus"
	_, err = n.Start(nd)
	if err == nil || !strings.Contains(err.Error(), "admin address "+nd.AdminAddress+" is not available") || !strings.Contains(err.Error(), "--base-port") {
		t.Fatalf("Start: %v", err)
	}
}
