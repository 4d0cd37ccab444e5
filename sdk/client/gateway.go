package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
)

const (
	// MaxMessageSize is the largest message a connection made by Connect
	// sends or receives: 100 MiB, as Fabric and Chorus peers allow.
	MaxMessageSize = 100 << 20

	// KeepaliveTime is how long a connection made by Connect stays idle
	// before the client pings the server. Chorus and Fabric peers refuse
	// pings more frequent than every 60 s (GOAWAY "too_many_pings"), so it
	// is never shorter.
	KeepaliveTime = 60 * time.Second
	// KeepaliveTimeout is how long the client waits for the answer to a
	// ping before it closes the connection.
	KeepaliveTimeout = 20 * time.Second

	// reconnectMaxDelay caps the backoff between reconnection attempts, so
	// that a restarted peer is reached again within seconds.
	reconnectMaxDelay = 10 * time.Second
	// nonceSize is the length of a proposal nonce, as in Fabric's clients.
	nonceSize = 24
)

// Gateway is a connection to a Chorus (or Fabric) Gateway peer as one
// client identity. It is safe for concurrent use; share one Gateway across
// the application. Close it when done.
type Gateway struct {
	client  gatewaypb.GatewayClient
	conn    *grpc.ClientConn // owned (closed by Close) only when Connect made it
	id      Identity
	creator []byte // id serialized
	signer  Signer
	channel string // the profile's channel, if any
	opts    options

	closeOnce sync.Once
	closeErr  error
}

// Option configures a Gateway made by Connect or NewGateway.
type Option func(*options)

type options struct {
	evaluateTimeout     time.Duration
	endorseTimeout      time.Duration
	submitTimeout       time.Duration
	commitStatusTimeout time.Duration

	// For Connect only.
	dialOptions []grpc.DialOption
	clientCert  *tls.Certificate
	connectOnly bool // an option for Connect only was given

	// Seams for tests: the source of nonces and the clock of proposal
	// timestamps.
	rand io.Reader
	now  func() time.Time
}

// WithEvaluateTimeout bounds each Evaluate call by d, in addition to any
// deadline of the caller's context. Zero, the default, adds none.
func WithEvaluateTimeout(d time.Duration) Option {
	return func(o *options) { o.evaluateTimeout = d }
}

// WithEndorseTimeout bounds each Endorse call by d, in addition to any
// deadline of the caller's context. Zero, the default, adds none.
func WithEndorseTimeout(d time.Duration) Option {
	return func(o *options) { o.endorseTimeout = d }
}

// WithSubmitTimeout bounds each Submit call (the hand-over to ordering, not
// the wait for commit) by d, in addition to any deadline of the caller's
// context. Zero, the default, adds none.
func WithSubmitTimeout(d time.Duration) Option {
	return func(o *options) { o.submitTimeout = d }
}

// WithCommitStatusTimeout bounds each CommitStatus call, which waits for the
// transaction's block to commit, by d, in addition to any deadline of the
// caller's context. Zero, the default, adds none.
func WithCommitStatusTimeout(d time.Duration) Option {
	return func(o *options) { o.commitStatusTimeout = d }
}

// WithDialOptions adds gRPC dial options to those Connect uses; they come
// last, so they override Connect's. NewGateway refuses this option: the
// caller dialled the connection.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) {
		o.dialOptions = append(o.dialOptions, opts...)
		o.connectOnly = true
	}
}

// WithTLSClientCertificate makes Connect present cert in the TLS handshake,
// for Gateway peers that require mutual TLS. NewGateway refuses this option.
func WithTLSClientCertificate(cert tls.Certificate) Option {
	return func(o *options) {
		o.clientCert = &cert
		o.connectOnly = true
	}
}

// Connect loads the client profile at profilePath (see LoadProfile) and
// connects to its Gateway peer; see ConnectProfile.
func Connect(profilePath string, opts ...Option) (*Gateway, error) {
	p, err := LoadProfile(profilePath)
	if err != nil {
		return nil, err
	}
	return ConnectProfile(p, opts...)
}

// ConnectProfile connects to the Gateway peer of profile p as the identity it
// names. It reads the certificate, the private key and the TLS root
// certificates, checks that the key belongs to the certificate, and prepares
// a gRPC connection with TLS (server name p.ServerName when set), pings no
// more often than every KeepaliveTime, and MaxMessageSize limits. The
// connection is made lazily: an unreachable peer shows at the first call.
// The Gateway owns the connection; Close closes it.
func ConnectProfile(p *Profile, opts ...Option) (*Gateway, error) {
	if p == nil {
		return nil, errors.New("client: nil profile")
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("client: profile: %w", err)
	}
	o := newOptions(opts)
	id, err := NewIdentityFromFiles(p.MSPID, p.CertPath)
	if err != nil {
		return nil, err
	}
	signer, err := NewSignerFromKeyFile(p.KeyPath)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := clientTLSConfig(p.TLSRootCertPath, p.ServerName, o.clientCert)
	if err != nil {
		return nil, err
	}
	dialOpts := append(DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	dialOpts = append(dialOpts, o.dialOptions...)
	conn, err := grpc.NewClient(p.Endpoint, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("client: connecting to %s: %w", p.Endpoint, err)
	}
	gw, err := newGateway(conn, id, signer, o)
	if err != nil {
		conn.Close()
		return nil, err
	}
	gw.conn = conn
	gw.channel = p.Channel
	return gw, nil
}

// DialOptions returns the gRPC dial options Connect uses, without transport
// credentials, for callers who dial themselves and pass the connection to
// NewGateway: pings no more often than every KeepaliveTime (with or without
// calls in flight, which Chorus peers permit), MaxMessageSize limits both
// ways, and reconnection attempts at most 10 s apart.
func DialOptions() []grpc.DialOption {
	bo := backoff.DefaultConfig
	bo.MaxDelay = reconnectMaxDelay
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                KeepaliveTime,
			Timeout:             KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 20 * time.Second}),
	}
}

// clientTLSConfig returns the TLS configuration of a connection to a
// Gateway peer whose certificate chains to the CAs in rootsFile.
func clientTLSConfig(rootsFile, serverName string, clientCert *tls.Certificate) (*tls.Config, error) {
	pemCerts, err := os.ReadFile(rootsFile)
	if err != nil {
		return nil, fmt.Errorf("client: reading TLS root certificates: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCerts) {
		return nil, fmt.Errorf("client: no PEM certificate found in TLS root certificates file %s", rootsFile)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		ServerName: serverName,
	}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	return cfg, nil
}

// NewGateway returns a Gateway that calls the Gateway service over conn as
// id, signing with signer. The caller owns conn: Close leaves it open, so
// one connection can serve several identities. DialOptions gives the
// options Connect would use to dial it. When signer has a
// Public() crypto.PublicKey method (the signers of this package do),
// NewGateway checks that it matches id's certificate.
func NewGateway(conn grpc.ClientConnInterface, id Identity, signer Signer, opts ...Option) (*Gateway, error) {
	if cc, ok := conn.(*grpc.ClientConn); conn == nil || (ok && cc == nil) {
		return nil, errors.New("client: nil gRPC connection")
	}
	o := newOptions(opts)
	if o.connectOnly {
		return nil, errors.New("client: WithDialOptions and WithTLSClientCertificate apply to Connect only; NewGateway's caller dials the connection")
	}
	return newGateway(conn, id, signer, o)
}

func newOptions(opts []Option) options {
	o := options{rand: rand.Reader, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func newGateway(conn grpc.ClientConnInterface, id Identity, signer Signer, o options) (*Gateway, error) {
	if signer == nil {
		return nil, errors.New("client: nil signer")
	}
	cert, err := id.parseCertificate()
	if err != nil {
		return nil, err
	}
	if pk, ok := signer.(interface{ Public() crypto.PublicKey }); ok {
		certKey, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !certKey.Equal(pk.Public()) {
			return nil, fmt.Errorf("client: the private key does not match the public key of the certificate of %s (subject %s)",
				id.MSPID, cert.Subject)
		}
	}
	creator, err := id.Serialize()
	if err != nil {
		return nil, err
	}
	return &Gateway{
		client:  gatewaypb.NewGatewayClient(conn),
		id:      id,
		creator: creator,
		signer:  signer,
		opts:    o,
	}, nil
}

// Identity returns the identity the Gateway acts as.
func (g *Gateway) Identity() Identity { return g.id }

// DefaultChannel returns the channel named by the profile the Gateway was
// connected with, or "" (for a Gateway made by NewGateway, or a profile
// without a channel).
func (g *Gateway) DefaultChannel() string { return g.channel }

// Network returns the channel named channel, through which the Gateway
// reaches that channel's contracts and events. It makes no call.
func (g *Gateway) Network(channel string) *Network {
	return &Network{gw: g, name: channel}
}

// Close closes the gRPC connection if Connect made it; a connection passed
// to NewGateway stays open. Calls in flight fail. Close is idempotent.
func (g *Gateway) Close() error {
	if g.conn == nil {
		return nil
	}
	g.closeOnce.Do(func() {
		if err := g.conn.Close(); err != nil {
			g.closeErr = fmt.Errorf("client: closing connection: %w", err)
		}
	})
	return g.closeErr
}

// withTimeout bounds ctx by d when d is positive.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Network is one channel as seen through a Gateway. It is safe for
// concurrent use.
type Network struct {
	gw   *Gateway
	name string
}

// Name returns the channel name.
func (n *Network) Name() string { return n.name }

// Contract returns the contract (chaincode) named name on the channel. It
// makes no call.
func (n *Network) Contract(name string) *Contract {
	return &Contract{network: n, name: name}
}

// Contract is one contract on a channel. It is safe for concurrent use.
type Contract struct {
	network *Network
	name    string
}

// Name returns the contract name.
func (c *Contract) Name() string { return c.name }

// Evaluate runs function fn of the contract with args on a peer, without
// ordering or committing anything, and returns the contract's result: a
// query. A contract error (status >= 400) and any other failure return a
// *GatewayError.
func (c *Contract) Evaluate(ctx context.Context, fn string, args ...string) ([]byte, error) {
	p, err := c.NewProposal(fn, args)
	if err != nil {
		return nil, err
	}
	return p.Evaluate(ctx)
}

// Submit runs function fn of the contract with args as a transaction:
// endorse, sign, submit to ordering, and wait for the commit status. It
// returns the contract's result once the transaction committed as valid.
// Failures return a *EndorseError, *SubmitError or *CommitStatusError as
// the step that failed; a transaction committed but invalid (an MVCC read
// conflict, say) returns a *CommitError with its validation code.
func (c *Contract) Submit(ctx context.Context, fn string, args ...string) ([]byte, error) {
	result, commit, err := c.SubmitAsync(ctx, fn, args...)
	if err != nil {
		return nil, err
	}
	status, err := commit.Status(ctx)
	if err != nil {
		return nil, err
	}
	if !status.Successful {
		return nil, newCommitError(status)
	}
	return result, nil
}

// SubmitAsync endorses function fn of the contract with args, signs the
// transaction and submits it to ordering, without waiting for it to commit.
// It returns the contract's result (which the ledger does not hold yet) and
// a Commit that waits for the transaction's status.
func (c *Contract) SubmitAsync(ctx context.Context, fn string, args ...string) ([]byte, *Commit, error) {
	p, err := c.NewProposal(fn, args)
	if err != nil {
		return nil, nil, err
	}
	tx, err := p.Endorse(ctx)
	if err != nil {
		return nil, nil, err
	}
	commit, err := tx.Submit(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tx.Result(), commit, nil
}
