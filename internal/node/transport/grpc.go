package transport

import (
	"context"
	"crypto/x509"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
)

const (
	// MaxMessageSize is the largest gRPC message a node receives or sends:
	// 100 MiB, Fabric's limit, for blocks on Deliver and on cluster links.
	MaxMessageSize = 100 << 20

	// KeepaliveMinTime is the shortest interval between client pings that a
	// server tolerates, with or without active streams. A client that pings
	// more often is sent GOAWAY "too_many_pings".
	KeepaliveMinTime = 60 * time.Second
	// ServerKeepaliveTime is how long a server waits on an idle connection
	// before it pings the client.
	ServerKeepaliveTime = 60 * time.Second
	// ClientKeepaliveTime is how long our clients wait on an idle connection
	// before they ping the server. It must never be below KeepaliveMinTime.
	ClientKeepaliveTime = KeepaliveMinTime
	// KeepaliveTimeout is how long either side waits for the answer to a
	// ping before it closes the connection.
	KeepaliveTimeout = 20 * time.Second

	// ReconnectMaxDelay caps the backoff between attempts to reconnect a
	// broken client connection, so that a restarted orderer or peer is
	// reached again within seconds (gRPC's default cap is 2 minutes).
	ReconnectMaxDelay = 10 * time.Second
)

// ServerOptions returns the options every Chorus gRPC server is built with:
// keepalive enforcement and pings (see the package documentation) and
// 100 MiB message limits both ways. The caller adds the credentials, as in
//
//	opts := append(transport.ServerOptions(), grpc.Creds(credentials.NewTLS(tlsConfig)))
//	srv := grpc.NewServer(opts...)
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    ServerKeepaliveTime,
			Timeout: KeepaliveTimeout,
		}),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

// DialOptions returns the options every Chorus gRPC client connection is
// made with: pings every 60 s, with or without active calls, which servers
// permit; 100 MiB message limits both ways; and reconnection attempts at
// most ReconnectMaxDelay apart. The caller adds the credentials, as in
//
//	opts := append(transport.DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
//	conn, err := grpc.NewClient(address, opts...)
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                ClientKeepaliveTime,
			Timeout:             KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
		ConnectTimeout(DefaultConnectTimeout),
	}
}

// DefaultConnectTimeout bounds one attempt to connect (TCP and the TLS
// handshake) in DialOptions.
const DefaultConnectTimeout = 20 * time.Second

// ConnectTimeout bounds each attempt of a connection to connect, with
// DialOptions' reconnection backoff; placed after DialOptions, it
// replaces DialOptions' bound. gRPC gives an attempt at least d and at
// least the attempt's backoff: 1 s for the first, growing to
// ReconnectMaxDelay after repeated failures. A call made while the
// connection is connecting fails with Unavailable once the attempt has
// failed or timed out, unless the call's own deadline comes first.
func ConnectTimeout(d time.Duration) grpc.DialOption {
	bo := backoff.DefaultConfig
	bo.MaxDelay = ReconnectMaxDelay
	return grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: d})
}

// ClientCertificate returns the certificate the client of an RPC presented
// and the server verified, from the RPC's context. It returns false when
// the connection is not TLS or the client presented no certificate.
// The caller must not modify the certificate.
func ClientCertificate(ctx context.Context) (*x509.Certificate, bool) {
	chain, ok := ClientCertificateChain(ctx)
	if !ok {
		return nil, false
	}
	return chain[0], true
}

// ClientCertificateChain is ClientCertificate with the chain it was
// verified through: the client's certificate first, a trust anchor last.
// The caller must not modify the chain.
func ClientCertificateChain(ctx context.Context) ([]*x509.Certificate, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return nil, false
	}
	var info credentials.TLSInfo
	switch ai := p.AuthInfo.(type) {
	case credentials.TLSInfo:
		info = ai
	case *credentials.TLSInfo:
		info = *ai
	default:
		return nil, false
	}
	// Only verified chains count: a certificate that was presented but not
	// verified (tls.RequestClientCert, which no Chorus server uses) proves
	// nothing.
	if len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil, false
	}
	return info.State.VerifiedChains[0], true
}

// CallBound is how long one attempt at a remote node may take when another
// node could be tried after it: d, or half of what is left of ctx if that
// is less, so that the next attempt has time too. cut reports that ctx's
// deadline shortened it: a node silent for the shortened bound may only be
// slower than this caller can wait, and is not to be judged hung.
func CallBound(ctx context.Context, d time.Duration) (bound time.Duration, cut bool) {
	if deadline, ok := ctx.Deadline(); ok {
		if half := time.Until(deadline) / 2; half < d {
			return half, true
		}
	}
	return d, false
}
