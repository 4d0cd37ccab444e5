package orderer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Signer signs requests and blocks with a node's identity.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
	Serialize() []byte
}

// SeekEnvelope builds a signed Deliver request for blocks start..stop of a
// channel (stop = math.MaxUint64 for "forever").
func SeekEnvelope(signer Signer, channel string, start, stop uint64) (*commonpb.Envelope, error) {
	return seekEnvelope(signer, channel, &ordererpb.SeekInfo{
		Start:    &ordererpb.SeekPosition{Type: &ordererpb.SeekPosition_Specified{Specified: &ordererpb.SeekSpecified{Number: start}}},
		Stop:     &ordererpb.SeekPosition{Type: &ordererpb.SeekPosition_Specified{Specified: &ordererpb.SeekSpecified{Number: stop}}},
		Behavior: ordererpb.SeekInfo_BLOCK_UNTIL_READY,
	})
}

// SeekNewestEnvelope builds a signed Deliver request for the newest block
// only, to learn the channel's height.
func SeekNewestEnvelope(signer Signer, channel string) (*commonpb.Envelope, error) {
	newest := &ordererpb.SeekPosition{Type: &ordererpb.SeekPosition_Newest{Newest: &ordererpb.SeekNewest{}}}
	return seekEnvelope(signer, channel, &ordererpb.SeekInfo{Start: newest, Stop: newest, Behavior: ordererpb.SeekInfo_FAIL_IF_NOT_READY})
}

func seekEnvelope(signer Signer, channel string, info *ordererpb.SeekInfo) (*commonpb.Envelope, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	creator := signer.Serialize()
	ch, err := envelope.Marshal(&commonpb.ChannelHeader{
		Type: int32(commonpb.HeaderType_DELIVER_SEEK_INFO), ChannelId: channel,
		TxId: envelope.TxID(nonce, creator), Timestamp: timestamppb.Now(),
	})
	if err != nil {
		return nil, err
	}
	sh, err := envelope.Marshal(&commonpb.SignatureHeader{Creator: creator, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	seek, err := envelope.Marshal(info)
	if err != nil {
		return nil, err
	}
	payload, err := envelope.Marshal(&commonpb.Payload{Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh}, Data: seek})
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &commonpb.Envelope{Payload: payload, Signature: sig}, nil
}

// BlockVerifier checks a fetched block's orderer signatures against the
// channel's block validation policy.
type BlockVerifier func(b *commonpb.Block) error

// deliverFetcher fetches one channel's blocks from the other orderers'
// Deliver services, trying each endpoint in turn until the range is
// complete. It does not give up while its context lives: an orderer
// behind a consensus snapshot cannot take part in its channel until it
// has these blocks, and the other orderers may be restarting or draining
// for minutes. An endpoint that sends nothing for idleTimeout (an orderer
// itself behind, say) is left for the next.
//
// It is built from the channel's own state, not looked up by name: the
// catch-up a restarting orderer finishes runs before the channel is
// registered.
type deliverFetcher struct {
	signer    Signer
	creds     credentials.TransportCredentials
	dialOpts  []grpc.DialOption
	log       *slog.Logger
	endpoints func() []string // other orderers, in preference order
	verifier  BlockVerifier
	tip       func() (uint64, []byte) // height and last hash, to check the first link
	// maxRetryDelay caps the pause between attempts (fetchMaxRetryDelay
	// when zero); idleTimeout is fetchIdleTimeout when zero.
	maxRetryDelay time.Duration
	idleTimeout   time.Duration
}

const (
	// fetchMaxRetryDelay is the longest pause between two fetch attempts.
	fetchMaxRetryDelay = 2 * time.Second
	// fetchIdleTimeout is how long an attempt waits for its next block.
	fetchIdleTimeout = 10 * time.Second
)

var _ BlockFetcher = (*deliverFetcher)(nil)

func (f *deliverFetcher) Fetch(ctx context.Context, channel string, from, to uint64, each func(*commonpb.Block) error) error {
	next := from
	_, prevHash := f.tip()
	maxDelay := f.maxRetryDelay
	if maxDelay <= 0 {
		maxDelay = fetchMaxRetryDelay
	}
	stopped := func(last error) error {
		return fmt.Errorf("stopped fetching blocks %d..%d of channel %s: %w (last failure: %v)", next, to, channel, ctx.Err(), last)
	}
	for attempt := 0; next <= to; attempt++ {
		eps := f.endpoints()
		if len(eps) == 0 {
			return fmt.Errorf("no other orderer endpoints for channel %s", channel)
		}
		ep := eps[attempt%len(eps)]
		err := f.fetchFrom(ctx, ep, channel, &next, to, &prevHash, each)
		if err == nil {
			return nil
		}
		if errors.Is(err, errFatalFetch) {
			return err
		}
		if ctx.Err() != nil {
			return stopped(err)
		}
		// Every failure of the first round is worth a line; after that,
		// one line every ten rounds keeps a long outage readable.
		if attempt < len(eps) || attempt%(10*len(eps)) == 0 {
			f.log.Warn("block fetch failed; retrying", "channel", channel, "endpoint", ep, "next", next, "to", to, "attempt", attempt+1, "err", err)
		}
		select {
		case <-ctx.Done():
			return stopped(err)
		case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, maxDelay)):
		}
	}
	return nil
}

func (f *deliverFetcher) fetchFrom(ctx context.Context, endpoint, channel string, next *uint64, to uint64, prevHash *[]byte, each func(*commonpb.Block) error) error {
	conn, err := grpc.NewClient(endpoint, append([]grpc.DialOption{grpc.WithTransportCredentials(f.creds)}, f.dialOpts...)...)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := f.idleTimeout
	if idle <= 0 {
		idle = fetchIdleTimeout
	}
	watchdog := time.AfterFunc(idle, cancel)
	defer watchdog.Stop()
	stream, err := ordererpb.NewAtomicBroadcastClient(conn).Deliver(sctx)
	if err != nil {
		return err
	}
	req, err := SeekEnvelope(f.signer, channel, *next, to)
	if err != nil {
		return err
	}
	if err := stream.Send(req); err != nil {
		return err
	}
	for *next <= to {
		res, err := stream.Recv()
		if err != nil {
			if sctx.Err() != nil && ctx.Err() == nil {
				return fmt.Errorf("%s sent no block for %v", endpoint, idle)
			}
			return err
		}
		switch t := res.Type.(type) {
		case *ordererpb.DeliverResponse_Status:
			return fmt.Errorf("%s answered %v before block %d", endpoint, t.Status, *next)
		case *ordererpb.DeliverResponse_Block:
			b := t.Block
			if b.GetHeader().GetNumber() != *next {
				return fmt.Errorf("%s sent block %d, want %d", endpoint, b.GetHeader().GetNumber(), *next)
			}
			if !bytes.Equal(b.Header.PreviousHash, *prevHash) || !bytes.Equal(b.Header.DataHash, ledger.DataHash(b.Data.GetData())) {
				return fmt.Errorf("%s sent block %d that does not chain to block %d", endpoint, *next, *next-1)
			}
			if err := f.verifier(b); err != nil {
				return fmt.Errorf("block %d from %s: %w", *next, endpoint, err)
			}
			if err := each(b); err != nil {
				return errors.Join(errFatalFetch, err)
			}
			*prevHash = ledger.HeaderHash(b.Header)
			*next++
			watchdog.Reset(idle)
		}
	}
	return nil
}

var errFatalFetch = errors.New("storing a fetched block failed")
