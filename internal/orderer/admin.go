package orderer

import (
	"context"
	"errors"

	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// AdminService serves channel participation (chorus.admin.v1) for an
// Orderer. authorize decides whether the caller of each RPC is an
// administrator (the node wiring checks the mutual-TLS client certificate).
type AdminService struct {
	adminpb.UnimplementedChannelParticipationServer
	o         *Orderer
	authorize func(ctx context.Context) error
}

// NewAdminService returns the admin API of o.
func NewAdminService(o *Orderer, authorize func(ctx context.Context) error) *AdminService {
	return &AdminService{o: o, authorize: authorize}
}

func (a *AdminService) check(ctx context.Context) error {
	if err := a.authorize(ctx); err != nil {
		return status.Errorf(codes.PermissionDenied, "admin API: %v", err)
	}
	return nil
}

func (a *AdminService) JoinChannel(ctx context.Context, req *adminpb.JoinChannelRequest) (*adminpb.ChannelInfo, error) {
	if err := a.check(ctx); err != nil {
		return nil, err
	}
	if req.GenesisBlock == nil {
		return nil, status.Error(codes.InvalidArgument, "a genesis block is required")
	}
	info, err := a.o.Join(req.GenesisBlock)
	switch {
	case errors.Is(err, ErrExists):
		return nil, status.Error(codes.AlreadyExists, err.Error())
	case err != nil:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return info, nil
}

func (a *AdminService) ListChannels(ctx context.Context, _ *adminpb.ListChannelsRequest) (*adminpb.ListChannelsResponse, error) {
	if err := a.check(ctx); err != nil {
		return nil, err
	}
	return &adminpb.ListChannelsResponse{Channels: a.o.Channels()}, nil
}

func (a *AdminService) RemoveChannel(ctx context.Context, req *adminpb.RemoveChannelRequest) (*adminpb.RemoveChannelResponse, error) {
	if err := a.check(ctx); err != nil {
		return nil, err
	}
	if err := a.o.Remove(req.Channel); err != nil {
		if errors.Is(err, ErrUnknownChannel) {
			return nil, status.Error(codes.NotFound, err.Error())
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &adminpb.RemoveChannelResponse{}, nil
}
