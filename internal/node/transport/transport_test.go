package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/nettest"
)

// pki is a test organization: a CA and certificates written to files.
type pki struct {
	dir string
	ca  *identity.CA
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	ca, err := identity.NewCA(name, name+"MSP", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{dir: t.TempDir(), ca: ca}
}

// issue writes a certificate and its key as <name>.pem and <name>.key and
// returns their paths.
func (p *pki) issue(t *testing.T, name string, role identity.Role) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, err := p.ca.Issue(name, role, time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	return certFile, keyFile
}

func (p *pki) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Certificate())
	return pool
}

// writeFile writes data to a new file and renames it over name, as a
// renewal would.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// healthServer serves the gRPC health service on 127.0.0.1 with cfg and
// records the client certificate each call presented.
type healthServer struct {
	addr string
	mu   sync.Mutex
	seen []*x509.Certificate // one per call; nil when none was given
}

func startHealthServer(t *testing.T, cfg *tls.Config) *healthServer {
	t.Helper()
	hs := &healthServer{}
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		cert, _ := ClientCertificate(ctx)
		hs.mu.Lock()
		hs.seen = append(hs.seen, cert)
		hs.mu.Unlock()
		return handler(ctx, req)
	}
	opts := append(ServerOptions(), grpc.Creds(credentials.NewTLS(cfg)), grpc.UnaryInterceptor(record))
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	hs.addr = lis.Addr().String()
	return hs
}

func (hs *healthServer) lastCert() *x509.Certificate {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.seen) == 0 {
		return nil
	}
	return hs.seen[len(hs.seen)-1]
}

// check calls Health.Check on addr with the client TLS configuration cfg.
func check(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	opts := append(DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestRequireClientCert(t *testing.T) {
	org := newPKI(t, "Org1")
	other := newPKI(t, "Org2")
	srvCert, srvKey := org.issue(t, "server", identity.RoleMember)
	cfg, err := ServerTLS(srvCert, srvKey, org.pool(), RequireClientCert)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHealthServer(t, cfg)

	if err := check(t, hs.addr, ClientTLS(org.pool(), nil)); err == nil {
		t.Error("a client without a certificate was accepted")
	}

	strangerCert, strangerKey := other.issue(t, "stranger", identity.RoleMember)
	stranger, err := LoadKeyPair(strangerCert, strangerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, hs.addr, ClientTLS(org.pool(), stranger)); err == nil {
		t.Error("a client certificate of an untrusted CA was accepted")
	}

	clientCert, clientKey := org.issue(t, "client", identity.RoleMember)
	client, err := LoadKeyPair(clientCert, clientKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, hs.addr, ClientTLS(org.pool(), client)); err != nil {
		t.Fatalf("a client with a certificate was refused: %v", err)
	}
	if got := hs.lastCert(); got == nil || got.Subject.CommonName != "client" {
		t.Errorf("ClientCertificate = %v, want CN=client", got)
	}
}

func TestVerifyClientCertIfGiven(t *testing.T) {
	org := newPKI(t, "Org1")
	other := newPKI(t, "Org2")
	srvCert, srvKey := org.issue(t, "server", identity.RoleMember)
	cfg, err := ServerTLS(srvCert, srvKey, org.pool(), VerifyClientCertIfGiven)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHealthServer(t, cfg)

	if err := check(t, hs.addr, ClientTLS(org.pool(), nil)); err != nil {
		t.Fatalf("a client without a certificate was refused: %v", err)
	}
	if got := hs.lastCert(); got != nil {
		t.Errorf("ClientCertificate without a client certificate = %v, want none", got.Subject)
	}

	clientCert, clientKey := org.issue(t, "client", identity.RoleClient)
	client, err := LoadKeyPair(clientCert, clientKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, hs.addr, ClientTLS(org.pool(), client)); err != nil {
		t.Fatalf("a client with a certificate was refused: %v", err)
	}
	if got := hs.lastCert(); got == nil || got.Subject.CommonName != "client" {
		t.Errorf("ClientCertificate = %v, want CN=client", got)
	}

	strangerCert, strangerKey := other.issue(t, "stranger", identity.RoleMember)
	stranger, err := LoadKeyPair(strangerCert, strangerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t, hs.addr, ClientTLS(org.pool(), stranger)); err == nil {
		t.Error("a given client certificate of an untrusted CA was accepted")
	}
}

func TestRequireClientOU(t *testing.T) {
	org := newPKI(t, "Org1")
	srvCert, srvKey := org.issue(t, "server", identity.RoleMember)
	cfg, err := ServerTLS(srvCert, srvKey, org.pool(), RequireClientCert, RequireClientOU("admin"))
	if err != nil {
		t.Fatal(err)
	}
	hs := startHealthServer(t, cfg)
	for _, tc := range []struct {
		role identity.Role
		ok   bool
	}{{identity.RoleAdmin, true}, {identity.RoleClient, false}, {identity.RolePeer, false}, {identity.RoleMember, false}} {
		certFile, keyFile := org.issue(t, "user-"+tc.role.String(), tc.role)
		kp, err := LoadKeyPair(certFile, keyFile, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = check(t, hs.addr, ClientTLS(org.pool(), kp))
		if (err == nil) != tc.ok {
			t.Errorf("OU=%s: err = %v, want accepted = %v", tc.role, err, tc.ok)
		}
	}
}

// serverCN makes a TLS connection to addr and returns the common name of
// the certificate the server presented.
func serverCN(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestServerCertificateReload(t *testing.T) {
	org := newPKI(t, "Org1")
	certFile, keyFile := org.issue(t, "server-1", identity.RoleMember)
	logs := &syncWriter{w: new(bytes.Buffer)}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	cfg, err := ServerTLS(certFile, keyFile, nil, VerifyClientCertIfGiven, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	addr := lis.Addr().String()
	if cn := serverCN(t, addr, org.pool()); cn != "server-1" {
		t.Fatalf("server presents CN=%s, want server-1", cn)
	}

	// A half-done renewal: the new certificate without its key. The old
	// pair stays in service.
	newCert, newKey, err := org.ca.Issue("server-2", identity.RoleMember, time.Hour, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, newCert)
	if cn := serverCN(t, addr, org.pool()); cn != "server-1" {
		t.Fatalf("during renewal the server presents CN=%s, want server-1", cn)
	}
	if !strings.Contains(logs.String(), "could not be loaded") {
		t.Errorf("the failed reload was not logged:\n%s", logs.String())
	}

	// The renewal completes.
	writeFile(t, keyFile, newKey)
	if cn := serverCN(t, addr, org.pool()); cn != "server-2" {
		t.Fatalf("after renewal the server presents CN=%s, want server-2", cn)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("the reload was not logged:\n%s", logs.String())
	}
}

// TestKeyPairSameStamp replaces a pair by files of the same size and
// modification time: the contents are compared while the files are recent.
func TestKeyPairSameStamp(t *testing.T) {
	org := newPKI(t, "Org1")
	certFile, keyFile := org.issue(t, "a", identity.RoleMember)
	kp, err := LoadKeyPair(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(certFile)
	if err != nil {
		t.Fatal(err)
	}
	// Same CN length, same key type: the same size, or nearly.
	for range 20 {
		certPEM, keyPEM, err := org.ca.Issue("b", identity.RoleMember, time.Hour, "127.0.0.1", "localhost")
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(certPEM)) != fi.Size() {
			continue
		}
		writeFile(t, certFile, certPEM)
		writeFile(t, keyFile, keyPEM)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
		if cn := kp.Leaf().Subject.CommonName; cn != "b" {
			t.Fatalf("after replacement with the same stamp: CN=%s, want b", cn)
		}
		return
	}
	t.Skip("no certificate of the same size was issued")
}

func TestServerTLSErrors(t *testing.T) {
	org := newPKI(t, "Org1")
	certFile, keyFile := org.issue(t, "server", identity.RoleMember)
	_, otherKey := org.issue(t, "other", identity.RoleMember)
	for _, tc := range []struct {
		name      string
		cert, key string
		pool      *x509.CertPool
		mode      ClientAuth
		want      string
	}{
		{"no mode", certFile, keyFile, org.pool(), 0, "unknown client authentication mode"},
		{"no CAs", certFile, keyFile, nil, RequireClientCert, "needs the client CAs"},
		{"missing cert", filepath.Join(org.dir, "nope.pem"), keyFile, org.pool(), RequireClientCert, "no such file"},
		{"mismatched key", certFile, otherKey, org.pool(), RequireClientCert, "private key does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ServerTLS(tc.cert, tc.key, tc.pool, tc.mode)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "transport: ") {
				t.Errorf("err = %v, want transport: ...%s...", err, tc.want)
			}
		})
	}
	cfg, err := ServerTLS(certFile, keyFile, nil, VerifyClientCertIfGiven)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
}

func TestLoadCertPool(t *testing.T) {
	org1, org2 := newPKI(t, "Org1"), newPKI(t, "Org2")
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	writeFile(t, bundle, append(append([]byte{}, org1.ca.CertificatePEM()...), org2.ca.CertificatePEM()...))
	certs, err := ReadCertificates(bundle)
	if err != nil || len(certs) != 2 {
		t.Fatalf("ReadCertificates = %d certificates, %v; want 2", len(certs), err)
	}
	if _, err := LoadCertPool(bundle); err != nil {
		t.Fatal(err)
	}
	_, keyFile := org1.issue(t, "x", identity.RoleMember)
	if _, err := LoadCertPool(bundle, keyFile); err == nil || !strings.Contains(err.Error(), `"PRIVATE KEY", want "CERTIFICATE"`) {
		t.Errorf("a key file as a CA file: err = %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	writeFile(t, empty, []byte("nothing here\n"))
	if _, err := LoadCertPool(empty); err == nil || !strings.Contains(err.Error(), "no PEM certificate found") {
		t.Errorf("an empty CA file: err = %v", err)
	}
}

// TestLargeMessages sends and receives 10 MiB messages, beyond gRPC's
// default 4 MiB limit.
func TestLargeMessages(t *testing.T) {
	org := newPKI(t, "Org1")
	certFile, keyFile := org.issue(t, "server", identity.RoleMember)
	cfg, err := ServerTLS(certFile, keyFile, nil, VerifyClientCertIfGiven)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(ServerOptions(), grpc.Creds(credentials.NewTLS(cfg)))...)
	testpb.RegisterTestServiceServer(srv, echoServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(),
		append(DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(ClientTLS(org.pool(), nil))))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := bytes.Repeat([]byte{7}, 10<<20)
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{
		Payload: &testpb.Payload{Body: body},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetPayload().GetBody()) != len(body) {
		t.Errorf("echoed %d bytes, want %d", len(resp.GetPayload().GetBody()), len(body))
	}
}

type echoServer struct {
	testpb.UnimplementedTestServiceServer
}

func (echoServer) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

func TestKeepaliveCompatible(t *testing.T) {
	if ClientKeepaliveTime < KeepaliveMinTime {
		t.Errorf("clients ping every %v, below the servers' minimum %v", ClientKeepaliveTime, KeepaliveMinTime)
	}
	if MaxMessageSize < 100<<20 {
		t.Errorf("MaxMessageSize = %d, want at least 100 MiB", MaxMessageSize)
	}
}

func TestClientCertificateWithoutPeer(t *testing.T) {
	if c, ok := ClientCertificate(context.Background()); ok || c != nil {
		t.Errorf("ClientCertificate(background) = %v, %v", c, ok)
	}
}

// syncWriter serializes writes from the handshake goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// A call over a connection whose peer accepts TCP and never completes the
// TLS handshake fails with Unavailable when ConnectTimeout's bound ends
// the attempt (at least 1 s, gRPC's first backoff), before the call's own
// 4 s deadline; with DialOptions' 20 s bound it runs into that deadline
// instead.
func TestConnectTimeout(t *testing.T) {
	silent := nettest.SilentAddress(t)
	call := func(opts ...grpc.DialOption) error {
		conn, err := grpc.NewClient(silent,
			append(append(DialOptions(), opts...), grpc.WithTransportCredentials(credentials.NewTLS(ClientTLS(nil, nil))))...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		_, err = testpb.NewTestServiceClient(conn).EmptyCall(ctx, &testpb.Empty{})
		return err
	}
	if code := status.Code(call(ConnectTimeout(200 * time.Millisecond))); code != codes.Unavailable {
		t.Errorf("with a 200 ms connect bound: %v, want Unavailable", code)
	}
	if code := status.Code(call()); code != codes.DeadlineExceeded {
		t.Errorf("with DialOptions alone: %v, want the call's DeadlineExceeded", code)
	}
}

func TestCallBound(t *testing.T) {
	if d, cut := CallBound(context.Background(), 10*time.Second); d != 10*time.Second || cut {
		t.Errorf("without a deadline: %v %v, want 10s uncut", d, cut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if d, cut := CallBound(ctx, 10*time.Second); d != 10*time.Second || cut {
		t.Errorf("with an hour left: %v %v, want 10s uncut", d, cut)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancelShort()
	if d, cut := CallBound(short, 10*time.Second); !cut || d > 2*time.Second || d < time.Second {
		t.Errorf("with 4 s left: %v %v, want about 2 s, cut", d, cut)
	}
}
