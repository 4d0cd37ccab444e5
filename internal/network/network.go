package network

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chorusledger/chorus/internal/node/transport"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Network is a generated network on disk.
type Network struct {
	Dir  string
	Spec *Spec
	// Binary is the chorus executable that runs nodes; default: this
	// process's own executable.
	Binary string
}

// Load opens the network generated in dir.
func Load(dir string) (*Network, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s, err := loadSpec(abs)
	if err != nil {
		return nil, err
	}
	return &Network{Dir: abs, Spec: s}, nil
}

// Path resolves a path recorded relative to the network directory.
func (n *Network) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(n.Dir, rel)
}

func (n *Network) binary() (string, error) {
	if n.Binary != "" {
		return n.Binary, nil
	}
	return os.Executable()
}

// Nodes returns the nodes of a role ("" for all).
func (n *Network) Nodes(role Role) []Node {
	var out []Node
	for _, nd := range n.Spec.Nodes {
		if role == "" || nd.Role == role {
			out = append(out, nd)
		}
	}
	return out
}

// PID returns the process id of a running node, after checking that the
// process is alive and is that node (its command line names the node's
// configuration). A stale pid file is removed.
func (n *Network) PID(nd Node) (int, bool) {
	pidFile := n.Path(nd.PIDFile)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		os.Remove(pidFile)
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(n.Path(nd.Config))) || isZombie(pid) {
		os.Remove(pidFile)
		return 0, false
	}
	return pid, true
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

// Start launches a node as its own process (in its own session, so it
// outlives the launcher), appending its output to its log file. It does
// nothing if the node already runs.
func (n *Network) Start(nd Node) (int, error) {
	if pid, ok := n.PID(nd); ok {
		return pid, nil
	}
	if err := portsAvailable(nd); err != nil {
		return 0, fmt.Errorf("network: start %s: %w", nd.Name, err)
	}
	bin, err := n.binary()
	if err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(n.Path(nd.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "node", "start", "--config", n.Path(nd.Config))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = n.Path(nd.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("network: start %s: %w", nd.Name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(n.Path(nd.PIDFile), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	// Reap the child when it exits, so it does not linger as a zombie
	// while this process lives.
	go cmd.Wait()
	return pid, nil
}

// portsAvailable checks that nothing listens on a node's addresses, so
// that a node is not started into another process's ports, where it would
// fail and leave the network's clients talking to someone else.
func portsAvailable(nd Node) error {
	for _, a := range []struct{ what, addr string }{
		{"address", nd.Address}, {"admin address", nd.AdminAddress}, {"operations address", nd.OpsAddress},
	} {
		if a.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", a.addr)
		if err != nil {
			return fmt.Errorf("its %s %s is not available (another network on these ports? choose another --base-port): %w", a.what, a.addr, err)
		}
		l.Close()
	}
	return nil
}

// Signal sends sig to a running node's process.
func (n *Network) Signal(nd Node, sig syscall.Signal) error {
	pid, ok := n.PID(nd)
	if !ok {
		return fmt.Errorf("network: %s is not running", nd.Name)
	}
	return syscall.Kill(pid, sig)
}

// Stop asks a node to drain and exit (SIGTERM) and waits for it, killing
// it after timeout.
func (n *Network) Stop(nd Node, timeout time.Duration) error {
	pid, ok := n.PID(nd)
	if !ok {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			os.Remove(n.Path(nd.PIDFile))
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	os.Remove(n.Path(nd.PIDFile))
	return fmt.Errorf("network: %s did not stop within %v; killed", nd.Name, timeout)
}

// Kill ends a node at once (SIGKILL), as a crash would.
func (n *Network) Kill(nd Node) error {
	pid, ok := n.PID(nd)
	if !ok {
		return fmt.Errorf("network: %s is not running", nd.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for alive(pid) {
		time.Sleep(10 * time.Millisecond)
	}
	os.Remove(n.Path(nd.PIDFile))
	return nil
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	return !isZombie(pid)
}

// Admin dials a node's admin API as its organization's admin.
func (n *Network) Admin(nd Node) (adminpb.ChannelParticipationClient, func(), error) {
	conn, err := n.adminConn(nd)
	if err != nil {
		return nil, nil, err
	}
	return adminpb.NewChannelParticipationClient(conn), func() { conn.Close() }, nil
}

// LedgerQuery dials a node's ledger query API as its organization's admin.
func (n *Network) LedgerQuery(nd Node) (adminpb.LedgerQueryClient, func(), error) {
	conn, err := n.adminConn(nd)
	if err != nil {
		return nil, nil, err
	}
	return adminpb.NewLedgerQueryClient(conn), func() { conn.Close() }, nil
}

// adminConn is a connection to a node's admin port, with its
// organization's admin certificate as the TLS client certificate.
func (n *Network) adminConn(nd Node) (*grpc.ClientConn, error) {
	roots, err := transport.LoadCertPool(n.Path(nd.TLSCAFile))
	if err != nil {
		return nil, err
	}
	pair, err := transport.LoadKeyPair(n.Path(nd.AdminCertFile), n.Path(nd.AdminKeyFile), nil)
	if err != nil {
		return nil, err
	}
	tlsCfg := transport.ClientTLS(roots, pair)
	tlsCfg.ServerName = nd.TLSServerName
	return grpc.NewClient(nd.AdminAddress, append(transport.DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))...)
}

// GenesisBlock reads the channel's genesis block.
func (n *Network) GenesisBlock() (*commonpb.Block, error) {
	data, err := os.ReadFile(n.Path(n.Spec.GenesisBlock))
	if err != nil {
		return nil, err
	}
	b := &commonpb.Block{}
	return b, proto.Unmarshal(data, b)
}

// Join joins a node to the channel, waiting for its admin API to come up.
// A node that already joined is fine.
func (n *Network) Join(ctx context.Context, nd Node) error {
	genesis, err := n.GenesisBlock()
	if err != nil {
		return err
	}
	client, closeConn, err := n.Admin(nd)
	if err != nil {
		return err
	}
	defer closeConn()
	for {
		_, err := client.JoinChannel(ctx, &adminpb.JoinChannelRequest{GenesisBlock: genesis}, grpc.WaitForReady(true))
		switch status.Code(err) {
		case codes.OK, codes.AlreadyExists:
			return nil
		case codes.Unavailable:
			if ctx.Err() != nil {
				return fmt.Errorf("network: join %s: %w", nd.Name, err)
			}
			time.Sleep(50 * time.Millisecond)
		default:
			return fmt.Errorf("network: join %s to %s: %w", nd.Name, n.Spec.Channel, err)
		}
	}
}

// Ready reports whether a node answers /readyz with 200, and its message.
func (n *Network) Ready(ctx context.Context, nd Node) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.OpsAddress+"/readyz", nil)
	if err != nil {
		return false, err.Error()
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer res.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	return res.StatusCode == http.StatusOK, strings.TrimSpace(body.String())
}

// WaitReady waits until every given node answers /readyz with 200. It
// polls, since readiness is another process's state; the error names the
// nodes not ready and why.
func (n *Network) WaitReady(ctx context.Context, nodes []Node) error {
	for {
		var notReady []string
		for _, nd := range nodes {
			if ok, msg := n.Ready(ctx, nd); !ok {
				notReady = append(notReady, nd.Name+": "+msg)
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("network: not ready: %s", strings.Join(notReady, "; "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
