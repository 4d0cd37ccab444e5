package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorusledger/chorus/internal/contract/pkg"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"github.com/chorusledger/chorus/samples"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SampleContract is the sample every local network deploys, and its
// endorsement policy: a transaction needs a peer of each organization.
const SampleContract = "assets"

// SamplePolicy returns the sample's endorsement policy for orgs
// organizations: AND over each organization's peer.
func SamplePolicy(orgs int) string {
	var ps []string
	for k := 1; k <= orgs; k++ {
		ps = append(ps, fmt.Sprintf("'Org%dMSP.peer'", k))
	}
	if len(ps) == 1 {
		return "OR(" + ps[0] + ")"
	}
	return "AND(" + strings.Join(ps, ",") + ")"
}

// Up brings the network in opts.Dir to ready, generating it first if the
// directory holds none: it starts every node that is not running, joins
// each to the channel, waits until every node is ready, and deploys the
// sample contract unless it is deployed. An existing network keeps all its
// data. Ready means (DESIGN §10): every node answers /readyz, the channel
// has a Raft leader, and every peer has reached the block that committed
// the sample's definition. Progress goes to log.
func Up(ctx context.Context, opts Options, binary string, log io.Writer) (*Network, error) {
	var n *Network
	if _, err := os.Stat(filepath.Join(opts.Dir, specFile)); err == nil {
		if n, err = Load(opts.Dir); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "using the network in %s\n", n.Dir)
	} else {
		start := time.Now()
		if n, err = Generate(opts); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "generated keys, certificates and configuration in %s (%v)\n", n.Dir, time.Since(start).Round(time.Millisecond))
	}
	n.Binary = binary
	for _, role := range []Role{RoleOrderer, RolePeer} {
		nodes := n.Nodes(role)
		for _, nd := range nodes {
			_, running := n.PID(nd)
			pid, err := n.Start(nd)
			if err != nil {
				return n, err
			}
			if !running {
				fmt.Fprintf(log, "started %s (pid %d, log %s)\n", nd.Name, pid, n.Path(nd.LogFile))
			}
		}
		for _, nd := range nodes {
			if err := n.Join(ctx, nd); err != nil {
				return n, fmt.Errorf("%w (see %s)", err, n.Path(nd.LogFile))
			}
		}
		if err := n.WaitReady(ctx, nodes); err != nil {
			return n, err
		}
	}
	if err := n.deploySample(ctx, log); err != nil {
		return n, fmt.Errorf("network: deploying %s: %w", SampleContract, err)
	}
	return n, nil
}

// SamplePackage is the assets sample as a contract package: the prebuilt
// WebAssembly module kept in samples/assets (a test checks it is not
// stale), so that up needs no Go toolchain and stays fast.
func SamplePackage() ([]byte, error) {
	p, err := pkg.New(SampleContract+"_1.0", samples.AssetsModule)
	if err != nil {
		return nil, err
	}
	return p.Marshal()
}

// deploySample deploys the assets sample with the AND policy of every
// organization, unless it is deployed; Deploy waits until every peer has
// the block that committed its definition.
func (n *Network) deploySample(ctx context.Context, log io.Writer) error {
	orgs := 0
	for _, o := range n.Spec.Orgs {
		if !o.Orderer {
			orgs++
		}
	}
	archive, err := SamplePackage()
	if err != nil {
		return err
	}
	_, err = n.Deploy(ctx, Deployment{Name: SampleContract, Version: "1.0", Policy: SamplePolicy(orgs), Package: archive}, log)
	return err
}

// waitTx waits until a peer has committed a transaction.
func (n *Network) waitTx(ctx context.Context, p Node, txID string) error {
	conn, err := n.adminConn(p)
	if err != nil {
		return err
	}
	defer conn.Close()
	q := adminpb.NewLedgerQueryClient(conn)
	for {
		st, err := q.TransactionStatus(ctx, &adminpb.TransactionStatusRequest{Channel: n.Spec.Channel, TxId: txID})
		if err == nil {
			if st.ValidationCode != int32(peerpb.TxValidationCode_VALID) {
				return fmt.Errorf("%s committed transaction %s as %s: %s", p.Name, txID, st.ValidationCodeName, st.Reason)
			}
			return nil
		}
		if c := status.Code(err); c != codes.NotFound && c != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s has not committed transaction %s: %w", p.Name, txID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Down stops every node (SIGTERM, then SIGKILL after timeout); with purge
// it deletes the network directory too.
func (n *Network) Down(timeout time.Duration, purge bool, log io.Writer) error {
	var errs []error
	// Peers first, then orderers: peers stop pulling before the service
	// they pull from goes away.
	for _, role := range []Role{RolePeer, RoleOrderer} {
		for _, nd := range n.Nodes(role) {
			if _, running := n.PID(nd); !running {
				continue
			}
			if err := n.Stop(nd, timeout); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(log, "stopped %s\n", nd.Name)
		}
	}
	if purge {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(log, "removed %s\n", n.Dir)
		}
	}
	return errors.Join(errs...)
}
