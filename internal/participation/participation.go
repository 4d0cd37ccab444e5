// Package participation serves the administrative API through which an
// operator joins a node to channels, lists and removes them, and queries
// a node's ledgers (chorus.admin.v1). Orderers and peers both implement
// Participant; the node wiring serves it on the admin port, behind mutual
// TLS with an administrator's certificate.
package participation

import (
	"context"
	"errors"
	"fmt"

	"github.com/chorusledger/chorus/internal/ledger"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"

	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors a Participant wraps so that the service answers with the right
// gRPC code.
var (
	ErrExists         = errors.New("already exists")
	ErrUnknownChannel = errors.New("unknown channel")
	ErrNotFound       = errors.New("not found")
)

// Participant is a node that takes part in channels.
type Participant interface {
	Join(genesis *commonpb.Block) (*adminpb.ChannelInfo, error)
	Channels() []*adminpb.ChannelInfo
	Remove(channel string) error
}

// Querier answers questions about a node's ledgers.
type Querier interface {
	TransactionStatus(channel, txID string) (*adminpb.TxStatus, error)
	Block(channel string, number uint64) (*commonpb.Block, error)
	// Verify checks the channel's whole ledger over one snapshot.
	Verify(channel string) (*ledger.Report, error)
}

// Service serves ChannelParticipation and LedgerQuery. authorize decides,
// per call, whether the caller is an administrator.
type Service struct {
	adminpb.UnimplementedChannelParticipationServer
	adminpb.UnimplementedLedgerQueryServer
	node      Participant
	query     Querier // nil when the node answers no ledger queries
	authorize func(context.Context) error
}

// NewService returns the admin API of a node.
func NewService(node Participant, query Querier, authorize func(context.Context) error) *Service {
	return &Service{node: node, query: query, authorize: authorize}
}

func (s *Service) check(ctx context.Context) error {
	if err := s.authorize(ctx); err != nil {
		return status.Errorf(codes.PermissionDenied, "admin API: %v", err)
	}
	return nil
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrUnknownChannel), errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	default:
		return status.Error(codes.InvalidArgument, err.Error())
	}
}

func (s *Service) JoinChannel(ctx context.Context, req *adminpb.JoinChannelRequest) (*adminpb.ChannelInfo, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if req.GenesisBlock == nil {
		return nil, status.Error(codes.InvalidArgument, "a genesis block is required")
	}
	info, err := s.node.Join(req.GenesisBlock)
	if err != nil {
		return nil, toStatus(err)
	}
	return info, nil
}

func (s *Service) ListChannels(ctx context.Context, _ *adminpb.ListChannelsRequest) (*adminpb.ListChannelsResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return &adminpb.ListChannelsResponse{Channels: s.node.Channels()}, nil
}

func (s *Service) RemoveChannel(ctx context.Context, req *adminpb.RemoveChannelRequest) (*adminpb.RemoveChannelResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.node.Remove(req.Channel); err != nil {
		return nil, toStatus(err)
	}
	return &adminpb.RemoveChannelResponse{}, nil
}

func (s *Service) TransactionStatus(ctx context.Context, req *adminpb.TransactionStatusRequest) (*adminpb.TxStatus, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.query == nil {
		return nil, status.Error(codes.Unimplemented, "this node keeps no transaction status")
	}
	st, err := s.query.TransactionStatus(req.Channel, req.TxId)
	if err != nil {
		return nil, toStatus(err)
	}
	return st, nil
}

func (s *Service) GetBlock(ctx context.Context, req *adminpb.GetBlockRequest) (*commonpb.Block, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.query == nil {
		return nil, status.Error(codes.Unimplemented, "this node answers no ledger queries")
	}
	b, err := s.query.Block(req.Channel, req.Number)
	if err != nil {
		return nil, toStatus(err)
	}
	return b, nil
}

func (s *Service) VerifyLedger(ctx context.Context, req *adminpb.VerifyLedgerRequest) (*adminpb.LedgerReport, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.query == nil {
		return nil, status.Error(codes.Unimplemented, "this node answers no ledger queries")
	}
	rep, err := s.query.Verify(req.Channel)
	if rep == nil {
		if err == nil {
			err = fmt.Errorf("channel %s: verification returned nothing", req.Channel)
		}
		return nil, toStatus(err)
	}
	return LedgerReport(rep, err), nil
}

// LedgerReport converts a verification's report and error. A failure
// that is not a *ledger.VerifyError (an unreadable configuration, a
// storage error) is reported with failed_check "error".
func LedgerReport(rep *ledger.Report, err error) *adminpb.LedgerReport {
	out := &adminpb.LedgerReport{
		Channel: rep.Channel, Height: rep.Height, Blocks: rep.Blocks, Transactions: rep.Transactions,
		Valid: rep.Valid, Invalid: rep.Invalid, NotValidated: rep.NotValidated,
		MerkleRootsChecked: rep.MerkleRootsChecked, CommitHashesChecked: rep.CommitHashesChecked,
		SignaturesChecked: rep.SignaturesChecked, LastBlockHash: rep.LastBlockHash, LastCommitHash: rep.LastCommitHash,
	}
	if err != nil {
		out.Failure = err.Error()
		out.FailedCheck = "error"
		var ve *ledger.VerifyError
		if errors.As(err, &ve) {
			out.FailedBlock, out.FailedCheck = ve.Block, ve.Check
		}
	}
	return out
}

// LedgerTxStatus answers TransactionStatus from a channel's ledger.
func LedgerTxStatus(l *ledger.Ledger, txID string) (*adminpb.TxStatus, error) {
	rec, err := l.TxByID(txID)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("%w: transaction %s on channel %s", ErrNotFound, txID, l.Channel())
	}
	if err != nil {
		return nil, err
	}
	return &adminpb.TxStatus{
		Channel: l.Channel(), TxId: txID, BlockNumber: rec.BlockNumber, TxNumber: rec.TxNumber,
		ValidationCode: rec.ValidationCode, ValidationCodeName: peerpb.TxValidationCode(rec.ValidationCode).String(),
		Reason: rec.Reason,
	}, nil
}

// LedgerBlock answers GetBlock from a channel's ledger.
func LedgerBlock(l *ledger.Ledger, number uint64) (*commonpb.Block, error) {
	b, err := l.Block(number)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("%w: block %d of channel %s (height %d)", ErrNotFound, number, l.Channel(), l.Height())
	}
	return b, err
}

// Installer is a node that installs contract packages (a peer).
type Installer interface {
	InstallPackage(ctx context.Context, archive []byte) (*adminpb.InstalledPackage, error)
	InstalledPackages() []*adminpb.InstalledPackage
}

// PackagesService serves ContractPackages for an Installer.
type PackagesService struct {
	adminpb.UnimplementedContractPackagesServer
	node      Installer
	authorize func(context.Context) error
}

// NewPackagesService returns the package-installation API of a peer.
func NewPackagesService(node Installer, authorize func(context.Context) error) *PackagesService {
	return &PackagesService{node: node, authorize: authorize}
}

func (s *PackagesService) Install(ctx context.Context, req *adminpb.InstallRequest) (*adminpb.InstalledPackage, error) {
	if err := s.authorize(ctx); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "admin API: %v", err)
	}
	info, err := s.node.InstallPackage(ctx, req.Package)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return info, nil
}

func (s *PackagesService) ListInstalled(ctx context.Context, _ *adminpb.ListInstalledRequest) (*adminpb.ListInstalledResponse, error) {
	if err := s.authorize(ctx); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "admin API: %v", err)
	}
	return &adminpb.ListInstalledResponse{Packages: s.node.InstalledPackages()}, nil
}
