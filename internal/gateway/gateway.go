package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/node/ops"
	"github.com/chorusledger/chorus/internal/node/transport"
	"github.com/chorusledger/chorus/internal/orderer"
	"github.com/chorusledger/chorus/internal/peer"
	"github.com/chorusledger/chorus/internal/policy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	gatewaypb "github.com/chorusledger/chorus/proto/fabric/gateway"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// Options wire a Gateway into its peer.
type Options struct {
	Peer *peer.Peer
	// MSPID is this peer's organization; Address how clients reach it
	// (reported in error details).
	MSPID   string
	Address string
	// TLS is this peer's TLS key pair, presented to other peers and
	// orderers (mutual TLS).
	TLS         *transport.KeyPair
	DialOptions []grpc.DialOption
	// Concurrency bounds the requests served at once (default 5000).
	Concurrency int
	// EndorseTimeout bounds the wait for another organization's peer to
	// answer one proposal (default 30 s); a peer that does not answer in
	// time counts as unreachable.
	EndorseTimeout time.Duration
	// CommitStatusTimeout bounds a CommitStatus wait whose client set no
	// earlier deadline (default 2 minutes).
	CommitStatusTimeout time.Duration
	// BroadcastTimeout bounds the wait for one orderer's answer to a
	// submitted transaction (default 10 s); an orderer that does not
	// answer in time is left for the next (orderer.SetAttemptTimeout).
	BroadcastTimeout time.Duration
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
}

// Server implements gatewaypb.GatewayServer.
type Server struct {
	gatewaypb.UnimplementedGatewayServer
	opts    Options
	log     *slog.Logger
	sem     chan struct{}
	metrics *prometheus.CounterVec
	// durations times the unary requests, by method.
	durations *prometheus.HistogramVec

	mu          sync.Mutex
	conns       map[string]*grpc.ClientConn
	broadcaster map[string]*orderer.BroadcastClient // by channel and config sequence
	// unavailable holds, by channel and organization, until when an
	// organization found unavailable is left out of plans that can do
	// without it.
	unavailable map[unavailableKey]time.Time
}

// New returns a Gateway server.
func New(opts Options) *Server {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 5000
	}
	if opts.EndorseTimeout <= 0 {
		opts.EndorseTimeout = 30 * time.Second
	}
	if opts.CommitStatusTimeout <= 0 {
		opts.CommitStatusTimeout = 2 * time.Minute
	}
	if opts.BroadcastTimeout <= 0 {
		opts.BroadcastTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	m := ops.Register(opts.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chorus_gateway_requests_total",
		Help: "Gateway requests, by method and gRPC code."}, []string{"method", "code"}))
	d := ops.Register(opts.Registerer, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "chorus_gateway_request_duration_seconds",
		Help:    "Time to answer a unary Gateway request (Evaluate, Endorse, Submit, CommitStatus), by method.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"method"}))
	return &Server{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.Concurrency), metrics: m, durations: d,
		conns: map[string]*grpc.ClientConn{}, broadcaster: map[string]*orderer.BroadcastClient{}, unavailable: map[unavailableKey]time.Time{}}
}

// Close closes the connections to other peers and orderers.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	for _, b := range s.broadcaster {
		b.Close()
	}
	s.conns, s.broadcaster = map[string]*grpc.ClientConn{}, map[string]*orderer.BroadcastClient{}
}

// admit takes a slot or fails with ResourceExhausted.
func (s *Server) admit() (func(), error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	default:
		return nil, status.Errorf(codes.ResourceExhausted, "too many requests: this gateway serves at most %d at once; retry shortly", cap(s.sem))
	}
}

func (s *Server) count(method string, err error) {
	s.metrics.WithLabelValues(method, status.Code(err).String()).Inc()
}

// done counts a unary request that started at start and records how long
// it took; deferred with the address of the request's named error.
func (s *Server) done(method string, start time.Time, err *error) {
	s.count(method, *err)
	s.durations.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// detailed builds a status error with ErrorDetail entries.
func detailed(code codes.Code, msg string, details ...*gatewaypb.ErrorDetail) error {
	st := status.New(code, msg)
	if len(details) == 0 {
		return st.Err()
	}
	var ds []protoadapt.MessageV1
	for _, d := range details {
		ds = append(ds, protoadapt.MessageV1Of(d))
	}
	if withDetails, err := st.WithDetails(ds...); err == nil {
		return withDetails.Err()
	}
	return st.Err()
}

func (s *Server) localDetail(msg string) *gatewaypb.ErrorDetail {
	return &gatewaypb.ErrorDetail{Address: s.opts.Address, MspId: s.opts.MSPID, Message: msg}
}

// proposalStatus maps a refusal of the local peer to a gRPC error.
func (s *Server) proposalStatus(err error) error {
	var pe *peer.ProposalError
	if !errors.As(err, &pe) {
		return detailed(codes.Unavailable, err.Error(), s.localDetail(err.Error()))
	}
	code := codes.Aborted
	switch pe.Status {
	case 400:
		code = codes.InvalidArgument
	case 403:
		code = codes.PermissionDenied
	case 404:
		code = codes.NotFound
	case 409:
		code = codes.AlreadyExists
	}
	return detailed(code, pe.Message, s.localDetail(pe.Message))
}

// parseProposal parses the signed proposal of an Evaluate or Endorse
// request, answering InvalidArgument when there is none or it is malformed.
func parseProposal(sp *peerpb.SignedProposal) (*envelope.Proposal, error) {
	if sp == nil {
		return nil, status.Error(codes.InvalidArgument, "a signed proposal is required")
	}
	prop, err := envelope.ParseProposal(sp)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to unpack transaction proposal: %v", err)
	}
	return prop, nil
}

// Evaluate runs a query on this peer (or on a peer of the first target
// organization) without ordering anything.
func (s *Server) Evaluate(ctx context.Context, req *gatewaypb.EvaluateRequest) (res *gatewaypb.EvaluateResponse, err error) {
	defer s.done("Evaluate", time.Now(), &err)
	release, err := s.admit()
	if err != nil {
		return nil, err
	}
	defer release()
	prop, err := parseProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	target := s.opts.MSPID
	if len(req.TargetOrganizations) > 0 && !slices.Contains(req.TargetOrganizations, s.opts.MSPID) {
		target = req.TargetOrganizations[0]
	}
	var response *peerpb.Response
	detail := s.localDetail("")
	if target == s.opts.MSPID {
		sim, err := s.opts.Peer.Simulate(req.ProposedTransaction, channelconfig.PolicyReaders)
		if err != nil {
			return nil, s.proposalStatus(err)
		}
		response = sim.Response
	} else {
		pr, d, err := s.endorseRemote(ctx, prop.ChannelID(), target, req.ProposedTransaction)
		if err != nil {
			return nil, detailed(codes.Unavailable, "failed to evaluate transaction, see attached details for more info", d)
		}
		response, detail = pr.Response, d
	}
	if response.GetStatus() >= 400 {
		msg := fmt.Sprintf("chaincode response %d, %s", response.Status, response.Message)
		detail.Message = msg
		return nil, detailed(codes.Unknown, "evaluate call to endorser returned error: "+msg, detail)
	}
	return &gatewaypb.EvaluateResponse{Result: response}, nil
}

// Endorse collects the endorsements the contract's policy requires and
// returns the prepared (unsigned) transaction.
func (s *Server) Endorse(ctx context.Context, req *gatewaypb.EndorseRequest) (res *gatewaypb.EndorseResponse, err error) {
	defer s.done("Endorse", time.Now(), &err)
	release, err := s.admit()
	if err != nil {
		return nil, err
	}
	defer release()
	prop, err := parseProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	channel := prop.ChannelID()
	bundle, err := s.opts.Peer.Bundle(channel)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	orgs := req.EndorsingOrganizations
	var pol policy.Policy
	if len(orgs) == 0 {
		var text string
		if pol, text, err = s.opts.Peer.EndorsementPolicy(channel, prop.ContractName()); err != nil {
			return nil, detailed(codes.FailedPrecondition, fmt.Sprintf("no endorsement plan for %s: %v", prop.ContractName(), err), s.localDetail(err.Error()))
		}
		if orgs, err = s.planAround(bundle, pol, nil, nil); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "no set of reachable organizations satisfies the endorsement policy %s of %s: %v", text, prop.ContractName(), err)
		}
	}
	sp := req.ProposedTransaction
	c, err := s.collect(ctx, prop, bundle, pol, orgs, sp)
	if err != nil {
		return nil, err
	}
	payload, err := assemble(prop, c.responses)
	if errors.Is(err, envelope.ErrResponsesDiffer) && c.replanned {
		// The endorsements kept from an earlier plan may predate a block
		// that the later endorsers had seen: every organization of the
		// final plan endorses once more, with no new plan.
		if c, err = s.collect(ctx, prop, bundle, nil, c.orgs, sp); err != nil {
			return nil, err
		}
		payload, err = assemble(prop, c.responses)
	}
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "failed to assemble transaction: %v", err)
	}
	return &gatewaypb.EndorseResponse{PreparedTransaction: &commonpb.Envelope{Payload: payload}}, nil
}

// statusUnavailable is the status of an endorser that cannot serve the
// proposal now (its channel stopped, say), as opposed to a refusal.
const statusUnavailable = 503

// collected is what collect gathered: the final plan's organizations and
// their responses, and whether it planned again.
type collected struct {
	orgs      []string
	responses []*peerpb.ProposalResponse
	replanned bool
}

// collect gathers the endorsements of orgs. With a policy (the Gateway
// planned orgs), an organization that is unavailable (its peers cannot be
// reached, do not answer in time, answer 503, or answer without an
// endorsement) is left out of a new plan when the policy allows one
// without it; the endorsements already made are kept, and plans that use
// them preferred. An answer is final: a contract's error or an endorser's
// refusal; so is every failure without a policy (the client chose the
// organizations), and the end of ctx.
func (s *Server) collect(ctx context.Context, prop *envelope.Proposal, bundle *channelconfig.Bundle, pol policy.Policy, orgs []string, sp *peerpb.SignedProposal) (collected, error) {
	c := collected{orgs: orgs}
	endorsed := map[string]*peerpb.ProposalResponse{}
	unreachable := map[string]bool{}
	var failures []*gatewaypb.ErrorDetail
	for {
		failed, final := false, false
		for _, r := range s.endorseEach(ctx, prop.ChannelID(), c.orgs, endorsed, sp) {
			var answer bool // a refusal, not an unavailable endorser
			switch st := r.response.GetResponse().GetStatus(); {
			case r.err != nil:
				r.detail.Message = r.err.Error()
				var pe *peer.ProposalError // this peer's refusal
				answer = errors.As(r.err, &pe) && pe.Status != statusUnavailable
			case st >= 400:
				r.detail.Message = fmt.Sprintf("chaincode response %d, %s", st, r.response.Response.Message)
				answer = st != statusUnavailable
			default:
				endorsed[r.org] = r.response
				s.markAvailable(bundle.ChannelID(), r.org)
				continue
			}
			failures = append(failures, r.detail)
			failed = true
			// Remembered only when the organization itself failed: not
			// when this client gave up, nor when its deadline cut the wait
			// short of the full bound.
			var hurried *hurriedError
			if !answer && r.org != s.opts.MSPID && ctx.Err() == nil && !errors.As(r.err, &hurried) {
				s.markUnavailable(bundle.ChannelID(), r.org)
			}
			if answer || pol == nil {
				final = true
			} else {
				unreachable[r.org] = true
			}
		}
		if !failed {
			break
		}
		if ctx.Err() != nil {
			return c, status.FromContextError(ctx.Err()).Err()
		}
		if !final {
			if next, err := s.planAround(bundle, pol, unreachable, endorsed); err == nil {
				s.log.Warn("endorsing without unreachable organizations", "channel", prop.ChannelID(), "tx", prop.TxID(),
					"unreachable", slices.Sorted(maps.Keys(unreachable)), "plan", next)
				c.orgs, c.replanned = next, true
				continue
			}
		}
		sort.Slice(failures, func(i, j int) bool { return failures[i].MspId < failures[j].MspId })
		return c, detailed(codes.Aborted, "failed to endorse transaction, see attached details for more info", failures...)
	}
	for _, org := range c.orgs {
		c.responses = append(c.responses, endorsed[org])
	}
	return c, nil
}

// assemble builds the transaction's payload from the responses, in the
// order of their endorsers' identities, so that the transaction does not
// depend on which endorser answered first.
func assemble(prop *envelope.Proposal, responses []*peerpb.ProposalResponse) ([]byte, error) {
	sort.Slice(responses, func(i, j int) bool {
		return string(responses[i].GetEndorsement().GetEndorser()) < string(responses[j].GetEndorsement().GetEndorser())
	})
	return envelope.AssemblePayload(prop, responses)
}

// endorsement is one organization's answer to a proposal: a response, or
// the error that kept its peers from giving one.
type endorsement struct {
	org      string
	response *peerpb.ProposalResponse
	detail   *gatewaypb.ErrorDetail
	err      error
}

// endorseEach asks each organization of orgs that has not endorsed yet,
// all at once, and returns their answers.
func (s *Server) endorseEach(ctx context.Context, channel string, orgs []string, endorsed map[string]*peerpb.ProposalResponse, sp *peerpb.SignedProposal) []endorsement {
	var pending []string
	for _, org := range orgs {
		if endorsed[org] == nil {
			pending = append(pending, org)
		}
	}
	out := make([]endorsement, len(pending))
	var wg sync.WaitGroup
	for i, org := range pending {
		wg.Go(func() {
			pr, detail, err := s.endorseOn(ctx, channel, org, sp)
			out[i] = endorsement{org: org, response: pr, detail: detail, err: err}
		})
	}
	wg.Wait()
	return out
}

// unavailableFor is how long an organization found unavailable (its peers
// unreachable, silent past the endorsement bound, or answering 503) is
// left out of the plans that can do without it, so that each request does
// not wait for it again.
const unavailableFor = 10 * time.Second

type unavailableKey struct{ channel, org string }

func (s *Server) markUnavailable(channel, org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailable[unavailableKey{channel, org}] = time.Now().Add(unavailableFor)
}

// markAvailable forgets that an organization that has just endorsed was
// found unavailable.
func (s *Server) markAvailable(channel, org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unavailable, unavailableKey{channel, org})
}

// planAround is plan leaving out, besides excluded, the organizations
// recently found unavailable, unless no plan can do without them or they
// have endorsed this proposal already. When an organization's time is up,
// this request tries it again while the others go on leaving it out for
// another unavailableFor: a success forgets it (markAvailable), a failure
// marks it again.
func (s *Server) planAround(bundle *channelconfig.Bundle, pol policy.Policy, excluded map[string]bool, endorsed map[string]*peerpb.ProposalResponse) ([]string, error) {
	avoided := maps.Clone(excluded)
	if avoided == nil {
		avoided = map[string]bool{}
	}
	now := time.Now()
	s.mu.Lock()
	for k, until := range s.unavailable {
		switch {
		case k.channel != bundle.ChannelID() || endorsed[k.org] != nil:
		case now.After(until):
			s.unavailable[k] = now.Add(unavailableFor) // this request tries it
		default:
			avoided[k.org] = true
		}
	}
	s.mu.Unlock()
	if len(avoided) > len(excluded) {
		if orgs, err := s.plan(bundle, pol, avoided, endorsed); err == nil {
			return orgs, nil
		}
	}
	return s.plan(bundle, pol, excluded, endorsed)
}

// plan chooses the smallest set of organizations whose peers together
// satisfy pol, trying this one first, then those that have endorsed the
// proposal already, then the others in the order of the channel
// configuration. Only organizations this gateway can reach (itself, or
// one with Gateway endpoints in the channel configuration) and not
// excluded are considered.
func (s *Server) plan(bundle *channelconfig.Bundle, pol policy.Policy, excluded map[string]bool, endorsed map[string]*peerpb.ProposalResponse) ([]string, error) {
	var candidates, others []string
	if !excluded[s.opts.MSPID] {
		candidates = append(candidates, s.opts.MSPID)
	}
	for _, org := range bundle.Organizations() {
		id := org.MSPID()
		switch {
		case id == s.opts.MSPID || excluded[id] || len(bundle.GatewayEndpoints(id)) == 0:
		case endorsed[id] != nil:
			candidates = append(candidates, id)
		default:
			others = append(others, id)
		}
	}
	candidates = append(candidates, others...)
	n := len(candidates)
	if n > 16 {
		n = 16
	}
	lastErr := errors.New("no organization left to ask")
	for size := 1; size <= n; size++ {
		for _, subset := range combinations(n, size) {
			var signers []policy.Signer
			var orgs []string
			for _, i := range subset {
				orgs = append(orgs, candidates[i])
				signers = append(signers, planSigner(candidates[i]))
			}
			if err := pol.Evaluate(signers); err == nil {
				return orgs, nil
			} else {
				lastErr = err
			}
		}
	}
	return nil, lastErr
}

// combinations lists the index subsets of size k of 0..n-1 in order, so
// subsets holding index 0 (this organization) come first.
func combinations(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

// planSigner stands for "a peer of this organization" when planning.
type planSigner string

func (p planSigner) ID() string    { return string(p) + ".peer" }
func (p planSigner) MSPID() string { return string(p) }
func (p planSigner) HasRole(r identity.Role) bool {
	return r == identity.RolePeer || r == identity.RoleMember
}

// endorseOn endorses on this peer for its own organization, or on a peer
// of another organization.
func (s *Server) endorseOn(ctx context.Context, channel, org string, sp *peerpb.SignedProposal) (*peerpb.ProposalResponse, *gatewaypb.ErrorDetail, error) {
	if org == s.opts.MSPID {
		pr, err := s.opts.Peer.Endorse(sp)
		if err != nil {
			return nil, s.localDetail(""), err
		}
		return pr, s.localDetail(""), nil
	}
	return s.endorseRemote(ctx, channel, org, sp)
}

// endorseRemote asks the peers of another organization, in the order the
// channel configuration lists them, until one answers.
func (s *Server) endorseRemote(ctx context.Context, channel, org string, sp *peerpb.SignedProposal) (*peerpb.ProposalResponse, *gatewaypb.ErrorDetail, error) {
	bundle, err := s.opts.Peer.Bundle(channel)
	if err != nil {
		return nil, &gatewaypb.ErrorDetail{MspId: org}, err
	}
	eps := bundle.GatewayEndpoints(org)
	if len(eps) == 0 {
		return nil, &gatewaypb.ErrorDetail{MspId: org}, fmt.Errorf("organization %s lists no gateway peer in the channel configuration", org)
	}
	var lastErr error
	detail := &gatewaypb.ErrorDetail{MspId: org}
	for _, ep := range eps {
		detail = &gatewaypb.ErrorDetail{Address: ep.Address(), MspId: org}
		conn, err := s.conn(bundle, ep.Address(), ep.Name)
		if err != nil {
			lastErr = err
			continue
		}
		bound, cut := transport.CallBound(ctx, s.opts.EndorseTimeout)
		callCtx, cancel := context.WithTimeout(ctx, bound)
		pr, err := peerpb.NewEndorserClient(conn).ProcessProposal(callCtx, sp)
		// The peer's side learns the bound from the call and may end the
		// call a moment before callCtx's own timer: either says so.
		timedOut := ctx.Err() == nil && (errors.Is(callCtx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded)
		cancel()
		switch st := pr.GetResponse().GetStatus(); {
		case timedOut && cut:
			lastErr = &hurriedError{address: ep.Address(), bound: bound}
		case timedOut:
			lastErr = fmt.Errorf("%s did not answer within %s", ep.Address(), bound.Round(time.Millisecond))
		case err != nil:
			lastErr = err
		case st < 400 && (st < 200 || pr.GetEndorsement() == nil):
			lastErr = fmt.Errorf("%s answered status %d without an endorsement", ep.Address(), st)
		default:
			return pr, detail, nil
		}
	}
	return nil, detail, fmt.Errorf("no peer of %s could endorse: %w", org, lastErr)
}

// hurriedError is a call to another organization's peer that ran out of a
// bound shorter than EndorseTimeout, cut by the client's deadline: the
// peer may only be slower than this client can wait, so the organization
// is not remembered as unavailable.
type hurriedError struct {
	address string
	bound   time.Duration
}

func (e *hurriedError) Error() string {
	return fmt.Sprintf("%s did not answer within %s (half of what was left of the client's deadline)", e.address, e.bound.Round(time.Millisecond))
}

// conn returns a connection to another node, trusting the TLS CAs of the
// channel's organizations and presenting this peer's TLS certificate.
func (s *Server) conn(bundle *channelconfig.Bundle, address, serverName string) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[address]; ok {
		return c, nil
	}
	cfg := transport.ClientTLS(channelTLSRoots(bundle), s.opts.TLS)
	if serverName != "" {
		cfg.ServerName = serverName
	}
	c, err := grpc.NewClient(address, append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, s.opts.DialOptions...)...)
	if err != nil {
		return nil, err
	}
	s.conns[address] = c
	return c, nil
}

// channelTLSRoots gathers the TLS CAs of every organization of a channel.
func channelTLSRoots(bundle *channelconfig.Bundle) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, org := range bundle.Organizations() {
		for _, pemBytes := range append(org.TLSRootCerts(), org.TLSIntermediateCerts()...) {
			if cert, err := identity.ParseCertificatePEM(pemBytes); err == nil {
				pool.AddCert(cert)
			}
		}
	}
	return pool
}

// Submit sends the client-signed transaction to the ordering service.
func (s *Server) Submit(ctx context.Context, req *gatewaypb.SubmitRequest) (res *gatewaypb.SubmitResponse, err error) {
	defer s.done("Submit", time.Now(), &err)
	release, err := s.admit()
	if err != nil {
		return nil, err
	}
	defer release()
	env := req.GetPreparedTransaction()
	if env == nil {
		return nil, status.Error(codes.InvalidArgument, "a prepared transaction is required")
	}
	if len(env.Signature) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	parsed, err := envelope.ParseEnvelopeMessage(env)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to unpack the prepared transaction: %v", err)
	}
	bundle, err := s.opts.Peer.Bundle(parsed.ChannelHeader.ChannelId)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	err = bundle.CheckSigned(channelconfig.PolicyWriters, channelconfig.SignedData{Data: env.Payload, Identity: parsed.SignatureHeader.Creator, Signature: env.Signature})
	switch {
	case errors.Is(err, channelconfig.ErrBadSignature):
		return nil, status.Errorf(codes.InvalidArgument, "the prepared transaction is not signed by a valid identity of the channel: %v", err)
	case err != nil:
		return nil, status.Errorf(codes.PermissionDenied, "the creator may not write to channel %s: %v", bundle.ChannelID(), err)
	}
	bc := s.broadcastClient(bundle)
	if err := bc.Broadcast(ctx, env); err != nil {
		var se *orderer.StatusError
		if errors.As(err, &se) {
			return nil, status.Errorf(codes.Aborted, "received unsuccessful response from orderer: status=%s, info=%s", se.Status, se.Info)
		}
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, detailed(codes.Unavailable, "no orderers could successfully process transaction", &gatewaypb.ErrorDetail{Message: err.Error()})
	}
	return &gatewaypb.SubmitResponse{}, nil
}

func (s *Server) broadcastClient(bundle *channelconfig.Bundle) *orderer.BroadcastClient {
	key := fmt.Sprintf("%s/%d", bundle.ChannelID(), bundle.Sequence())
	s.mu.Lock()
	defer s.mu.Unlock()
	if bc, ok := s.broadcaster[key]; ok {
		return bc
	}
	var eps []string
	for _, ep := range bundle.OrdererEndpoints() {
		eps = append(eps, ep.Address())
	}
	creds := credentials.NewTLS(transport.ClientTLS(channelTLSRoots(bundle), s.opts.TLS))
	bc := orderer.NewBroadcastClient(eps, creds, s.opts.DialOptions...)
	bc.SetAttemptTimeout(s.opts.BroadcastTimeout)
	s.broadcaster[key] = bc
	return bc
}

// CommitStatus blocks until the transaction commits on this peer and
// returns its validation code and block.
func (s *Server) CommitStatus(ctx context.Context, req *gatewaypb.SignedCommitStatusRequest) (res *gatewaypb.CommitStatusResponse, err error) {
	defer s.done("CommitStatus", time.Now(), &err)
	release, err := s.admit()
	if err != nil {
		return nil, err
	}
	defer release()
	csr := &gatewaypb.CommitStatusRequest{}
	if err := proto.Unmarshal(req.GetRequest(), csr); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to unpack the commit status request: %v", err)
	}
	switch {
	case csr.TransactionId == "":
		return nil, status.Error(codes.InvalidArgument, "a transaction id is required")
	case csr.ChannelId == "":
		return nil, status.Error(codes.InvalidArgument, "a channel id is required")
	case len(csr.Identity) == 0:
		return nil, status.Error(codes.InvalidArgument, "an identity is required")
	}
	bundle, err := s.opts.Peer.Bundle(csr.ChannelId)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	if err := bundle.CheckSigned(channelconfig.PolicyReaders, channelconfig.SignedData{Data: req.Request, Identity: csr.Identity, Signature: req.Signature}); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "commit status request: %v", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.opts.CommitStatusTimeout)
	defer cancel()
	rec, err := s.opts.Peer.WaitForTx(waitCtx, csr.ChannelId, csr.TransactionId)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		if waitCtx.Err() != nil {
			return nil, status.Errorf(codes.DeadlineExceeded, "transaction %s has not committed on this peer within %s (peer.commitStatusTimeout); ask again to keep waiting",
				csr.TransactionId, s.opts.CommitStatusTimeout)
		}
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &gatewaypb.CommitStatusResponse{Result: peerpb.TxValidationCode(rec.ValidationCode), BlockNumber: rec.BlockNumber}, nil
}
