package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/chorusledger/chorus/internal/contract"
	"github.com/chorusledger/chorus/internal/contract/wasm"
	"github.com/chorusledger/chorus/internal/gateway"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/ledger"
	"github.com/chorusledger/chorus/internal/node/ops"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/chorusledger/chorus/internal/orderer"
	"github.com/chorusledger/chorus/internal/participation"
	"github.com/chorusledger/chorus/internal/peer"
	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	clusterpb "github.com/chorusledger/chorus/proto/chorus/cluster"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// drainTimeout bounds how long a node waits for in-flight RPCs when asked
// to stop before it cuts them off.
const drainTimeout = 10 * time.Second

// Run runs the node cfg describes until ctx is cancelled (SIGTERM), then
// drains: it stops accepting work, lets in-flight requests finish (up to
// drainTimeout), stops consensus after the block in hand, syncs and closes
// the database, and returns nil. Any failure to start is returned.
func Run(ctx context.Context, cfg *Config, logger *slog.Logger, level *slog.LevelVar) error {
	switch cfg.Role {
	case RoleOrderer:
		return runOrderer(ctx, cfg, logger, level)
	case RolePeer:
		return runPeer(ctx, cfg, logger, level)
	default:
		return fmt.Errorf("node: role %q cannot be started by this build yet", cfg.Role)
	}
}

// common is what every role sets up the same way.
type common struct {
	db       *kv.DB
	signer   *identity.SigningIdentity
	tlsPair  *transport.KeyPair
	rootCAs  []string
	ops      *ops.Operations
	listener net.Listener
	admin    net.Listener
}

func setUp(ctx context.Context, cfg *Config, logger *slog.Logger, level *slog.LevelVar) (_ *common, err error) {
	c := &common{}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	certPEM, err := os.ReadFile(cfg.Identity.CertFile)
	if err != nil {
		return nil, fmt.Errorf("node: identity.certFile: %w", err)
	}
	keyPEM, err := os.ReadFile(cfg.Identity.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: identity.keyFile: %w", err)
	}
	if c.signer, err = identity.LoadSigningIdentity(cfg.MSPID, certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	if c.tlsPair, err = transport.LoadKeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile, logger); err != nil {
		return nil, fmt.Errorf("node: tls: %w", err)
	}
	if c.db, err = kv.Open(filepath.Join(cfg.DataDir, "db"), kv.Options{
		Logger:        logger,
		CacheBytes:    int64(cfg.Storage.CacheMiB) << 20,
		MemTableBytes: cfg.Storage.memTableBytes(cfg.Role),
	}); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if removed, err := ledger.RemoveOrphanBlockFiles(c.db); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	} else if len(removed) > 0 {
		logger.Warn("removed the block files of channels removed before a stop", "directories", removed)
	}
	registry, err := ops.NewRegistry()
	if err != nil {
		return nil, err
	}
	if c.ops, err = ops.NewOperations(cfg.Listen.OperationsAddress, ops.Options{Logger: logger, Registry: registry, Level: level}); err != nil {
		return nil, fmt.Errorf("node: listen.operationsAddress: %w", err)
	}
	if cfg.Operations.Profiling {
		c.ops.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
		c.ops.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		c.ops.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
		c.ops.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	}
	if err := ops.WatchCertificates(ctx, logger, registry, cfg.CertificateFiles(), 30*24*time.Hour, time.Hour); err != nil {
		return nil, fmt.Errorf("node: certificate watch: %w", err)
	}
	if c.listener, err = net.Listen("tcp", cfg.Listen.Address); err != nil {
		return nil, fmt.Errorf("node: listen.address: %w", err)
	}
	if c.admin, err = net.Listen("tcp", cfg.Listen.AdminAddress); err != nil {
		return nil, fmt.Errorf("node: listen.adminAddress: %w", err)
	}
	return c, nil
}

func (c *common) close() {
	if c.listener != nil {
		c.listener.Close()
	}
	if c.admin != nil {
		c.admin.Close()
	}
	if c.db != nil {
		c.db.Close()
	}
}

// servers holds a role's gRPC servers for a graceful drain.
type servers []*grpc.Server

func (s servers) drain(logger *slog.Logger) {
	done := make(chan struct{})
	go func() {
		for _, srv := range s {
			srv.GracefulStop()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		logger.Warn("in-flight requests did not finish in time; closing them", "after", drainTimeout)
		for _, srv := range s {
			srv.Stop()
		}
		<-done
	}
}

// newServers makes a node's two gRPC servers over its TLS identity: the
// main one, where clients may present a certificate, and the admin one,
// which requires an admin's.
func newServers(cfg *Config, logger *slog.Logger) (mainSrv, adminSrv *grpc.Server, err error) {
	clientCAs, err := transport.LoadCertPool(cfg.ClientPortCAFiles()...)
	if err != nil {
		return nil, nil, fmt.Errorf("node: client CA files: %w", err)
	}
	mainTLS, err := transport.ServerTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile, clientCAs, transport.VerifyClientCertIfGiven, transport.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	adminCAs, err := transport.LoadCertPool(cfg.Admin.ClientRootCAFiles...)
	if err != nil {
		return nil, nil, fmt.Errorf("node: admin.clientRootCAFiles: %w", err)
	}
	adminTLS, err := transport.ServerTLS(cfg.TLS.CertFile, cfg.TLS.KeyFile, adminCAs, transport.RequireClientCert, transport.RequireClientOU(AdminOU), transport.WithLogger(logger))
	if err != nil {
		return nil, nil, err
	}
	mainSrv = grpc.NewServer(append(transport.ServerOptions(), grpc.Creds(credentials.NewTLS(mainTLS)))...)
	adminSrv = grpc.NewServer(append(transport.ServerOptions(), grpc.Creds(credentials.NewTLS(adminTLS)))...)
	return mainSrv, adminSrv, nil
}

// serve runs the main, admin and operations listeners of the node named
// name, logs that the role started, and waits until ctx ends (nil) or a
// listener stops (its error). The caller drains.
func (c *common) serve(ctx context.Context, logger *slog.Logger, mainSrv, adminSrv *grpc.Server, role, name string, channels int) error {
	serveErr := make(chan error, 3)
	go func() { serveErr <- mainSrv.Serve(c.listener) }()
	go func() { serveErr <- adminSrv.Serve(c.admin) }()
	go func() { serveErr <- c.ops.Serve() }()
	logger.Info(role+" started", "name", name, "address", c.listener.Addr().String(),
		"admin", c.admin.Addr().String(), "operations", c.ops.Addr().String(), "channels", channels)
	select {
	case <-ctx.Done():
		logger.Info("draining", "cause", context.Cause(ctx))
		return nil
	case err := <-serveErr:
		return fmt.Errorf("node: a listener stopped: %w", err)
	}
}

func runOrderer(ctx context.Context, cfg *Config, logger *slog.Logger, level *slog.LevelVar) error {
	c, err := setUp(ctx, cfg, logger, level)
	if err != nil {
		return err
	}
	defer c.close()
	rootCAs, err := transport.LoadCertPool(cfg.TLS.RootCAFiles...)
	if err != nil {
		return fmt.Errorf("node: tls.rootCAFiles: %w", err)
	}
	clusterCreds := credentials.NewTLS(transport.ClientTLS(rootCAs, c.tlsPair))
	sigCache := identity.NewSignatureCache(0)
	c.ops.Registry().MustRegister(ops.SignatureCacheCollector(sigCache))
	o, err := orderer.New(ctx, orderer.Options{
		DB:                   c.db,
		SignatureCache:       sigCache,
		Signer:               c.signer,
		TLSCert:              c.tlsPair.Leaf(),
		ClusterCreds:         clusterCreds,
		DialOptions:          append(transport.DialOptions(), transport.ConnectTimeout(cfg.Orderer.ClusterDialTimeout)),
		MaxInflightPerStream: cfg.Orderer.MaxInflightPerStream,
		MaxInflightTotal:     cfg.Orderer.MaxInflightTotal,
		BroadcastTimeout:     cfg.Orderer.BroadcastTimeout,
		PinLeadership:        !cfg.Orderer.LeaderFollowsSubmissions,
		Logger:               logger,
		Registerer:           c.ops.Registry(),
	})
	if err != nil {
		if ctx.Err() != nil {
			// A SIGTERM during the start (a channel catching up first):
			// what was fetched is durable and the next start goes on, so
			// this is a drain like any other, not a failure.
			logger.Info("orderer stopped while starting", "cause", context.Cause(ctx), "err", err)
			return nil
		}
		return err
	}
	defer o.Close()

	mainSrv, adminSrv, err := newServers(cfg, logger)
	if err != nil {
		return err
	}
	ordererpb.RegisterAtomicBroadcastServer(mainSrv, o)
	clusterpb.RegisterClusterServer(mainSrv, o.Cluster())
	admin := participation.NewService(o, o, requireAdmin)
	adminpb.RegisterChannelParticipationServer(adminSrv, admin)
	adminpb.RegisterLedgerQueryServer(adminSrv, admin)

	c.ops.AddReadinessCheck("channels", o.Ready)
	runErr := c.serve(ctx, logger, mainSrv, adminSrv, "orderer", cfg.Name, len(o.Channels()))
	// Drain: refuse new envelopes and end Deliver streams, answer the
	// envelopes in flight, then stop consensus after the block in hand
	// (which ends the cluster streams), then the servers.
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), drainTimeout)
	if err := o.Drain(drainCtx); err != nil {
		logger.Warn("drain incomplete", "err", err)
	}
	cancelDrain()
	o.Close()
	servers{mainSrv, adminSrv}.drain(logger)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.ops.Shutdown(shutdownCtx)
	logger.Info("orderer stopped")
	return runErr
}

// requireAdmin double-checks, per RPC, what the admin listener's TLS
// already enforced: a verified client certificate with OU=admin.
func requireAdmin(ctx context.Context) error {
	cert, ok := transport.ClientCertificate(ctx)
	if !ok {
		return errors.New("no verified client certificate")
	}
	for _, ou := range cert.Subject.OrganizationalUnit {
		if ou == AdminOU {
			return nil
		}
	}
	return fmt.Errorf("client certificate %s is not an admin's", cert.Subject)
}

// wasmLoader runs installed contract packages as WebAssembly.
type wasmLoader struct{ rt *wasm.Runtime }

func (l wasmLoader) Load(ctx context.Context, module []byte) (contract.Contract, error) {
	return l.rt.Load(ctx, module)
}

func runPeer(ctx context.Context, cfg *Config, logger *slog.Logger, level *slog.LevelVar) error {
	c, err := setUp(ctx, cfg, logger, level)
	if err != nil {
		return err
	}
	defer c.close()
	rt, err := wasm.NewRuntime(ctx, wasm.Options{
		CacheDir:         filepath.Join(cfg.DataDir, "wasm-cache"),
		Logger:           logger.With("component", "contracts"),
		CompareEveryPage: cfg.Peer.ContractMemoryReset == ContractMemoryResetCompare,
	})
	if err != nil {
		return fmt.Errorf("node: contract runtime: %w", err)
	}
	defer rt.Close(context.Background())
	sigCache := identity.NewSignatureCache(0)
	c.ops.Registry().MustRegister(ops.SignatureCacheCollector(sigCache))
	p, err := peer.New(peer.Options{
		DB:             c.db,
		SignatureCache: sigCache,
		Signer:         c.signer,
		ContractDir:    filepath.Join(cfg.DataDir, "contracts"),
		Modules:        wasmLoader{rt},
		DialOptions:    transport.DialOptions(),
		Logger:         logger,
		Registerer:     c.ops.Registry(),
	})
	if err != nil {
		return err
	}
	defer p.Close()

	mainSrv, adminSrv, err := newServers(cfg, logger)
	if err != nil {
		return err
	}
	peerpb.RegisterEndorserServer(mainSrv, p)
	gw := gateway.New(gateway.Options{
		Peer: p, MSPID: cfg.MSPID, Address: cfg.Listen.Address, TLS: c.tlsPair,
		DialOptions: transport.DialOptions(), Concurrency: cfg.Peer.GatewayConcurrency,
		EndorseTimeout: cfg.Peer.EndorseTimeout, CommitStatusTimeout: cfg.Peer.CommitStatusTimeout,
		BroadcastTimeout: cfg.Peer.BroadcastTimeout,
		Logger:           logger, Registerer: c.ops.Registry(),
	})
	defer gw.Close()
	gatewaypb.RegisterGatewayServer(mainSrv, gw)
	admin := participation.NewService(p, p, requireAdmin)
	adminpb.RegisterChannelParticipationServer(adminSrv, admin)
	adminpb.RegisterLedgerQueryServer(adminSrv, admin)
	adminpb.RegisterContractPackagesServer(adminSrv, participation.NewPackagesService(p, requireAdmin))

	c.ops.AddReadinessCheck("channels", p.Ready)
	runErr := c.serve(ctx, logger, mainSrv, adminSrv, "peer", cfg.Name, len(p.Channels()))
	// Drain: finish the requests in flight (endorsements), then stop
	// pulling and committing after the block in hand.
	servers{mainSrv, adminSrv}.drain(logger)
	p.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.ops.Shutdown(shutdownCtx)
	logger.Info("peer stopped")
	return runErr
}
