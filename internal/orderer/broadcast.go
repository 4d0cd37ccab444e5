package orderer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	ordererpb "github.com/chorusledger/chorus/proto/fabric/orderer"
)

// admissionError is why an envelope was refused, as a Broadcast status.
type admissionError struct {
	status commonpb.Status
	info   string
}

func (e *admissionError) Error() string { return e.info }

func refuse(status commonpb.Status, format string, args ...any) *admissionError {
	return &admissionError{status: status, info: fmt.Sprintf(format, args...)}
}

// Broadcast admits envelopes from one client stream and answers each, in
// order, once it is ordered and durable (SUCCESS) or refused (with the
// reason). At most MaxInflightPerStream envelopes of a stream are in
// flight; past MaxInflightTotal across all streams, new envelopes are
// refused with SERVICE_UNAVAILABLE.
func (o *Orderer) Broadcast(stream ordererpb.AtomicBroadcast_BroadcastServer) error {
	ctx := stream.Context()
	pending := make(chan chan *ordererpb.BroadcastResponse, o.opts.MaxInflightPerStream)
	sendErr := make(chan error, 1)
	go func() {
		var err error
		for rc := range pending {
			res := <-rc
			if err == nil {
				err = stream.Send(res)
			}
		}
		sendErr <- err
	}()
	var recvErr error
	for {
		env, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				recvErr = err
			}
			break
		}
		rc := make(chan *ordererpb.BroadcastResponse, 1)
		select {
		case pending <- rc: // blocks while the stream has too many in flight
		case <-ctx.Done():
			recvErr = ctx.Err()
		}
		if recvErr != nil {
			break
		}
		if o.draining.Load() {
			rc <- &ordererpb.BroadcastResponse{Status: commonpb.Status_SERVICE_UNAVAILABLE,
				Info: "this orderer is shutting down; send to another orderer"}
			continue
		}
		select {
		case o.inflight <- struct{}{}:
			o.busy.Add(1)
			go func() {
				defer func() { <-o.inflight; o.busy.Done() }()
				rc <- o.broadcastOne(ctx, env)
			}()
		default:
			o.metrics.refused.WithLabelValues("", commonpb.Status_SERVICE_UNAVAILABLE.String()).Inc()
			rc <- &ordererpb.BroadcastResponse{Status: commonpb.Status_SERVICE_UNAVAILABLE,
				Info: fmt.Sprintf("too many envelopes in flight on this orderer (%d); retry", cap(o.inflight))}
		}
	}
	close(pending)
	if err := <-sendErr; err != nil && recvErr == nil {
		return err
	}
	return recvErr
}

func (o *Orderer) broadcastOne(ctx context.Context, msg *commonpb.Envelope) *ordererpb.BroadcastResponse {
	ch, raw, txID, isConfig, err := o.admit(msg)
	channel := ""
	if ch != nil {
		channel = ch.id
	}
	if err != nil {
		var ae *admissionError
		if !errors.As(err, &ae) {
			ae = refuse(commonpb.Status_INTERNAL_SERVER_ERROR, "%v", err)
		}
		o.metrics.refused.WithLabelValues(channel, ae.status.String()).Inc()
		o.log.Debug("envelope refused", "channel", channel, "status", ae.status.String(), "info", ae.info)
		return &ordererpb.BroadcastResponse{Status: ae.status, Info: ae.info}
	}
	octx, cancel := context.WithTimeout(ctx, o.opts.BroadcastTimeout)
	defer cancel()
	if err := ch.chain.Order(octx, raw, txID, isConfig); err != nil {
		if errors.Is(err, ErrDuplicateTxID) {
			o.metrics.refused.WithLabelValues(channel, commonpb.Status_BAD_REQUEST.String()).Inc()
			return &ordererpb.BroadcastResponse{Status: commonpb.Status_BAD_REQUEST, Info: err.Error()}
		}
		o.metrics.refused.WithLabelValues(channel, commonpb.Status_SERVICE_UNAVAILABLE.String()).Inc()
		return &ordererpb.BroadcastResponse{Status: commonpb.Status_SERVICE_UNAVAILABLE, Info: err.Error()}
	}
	o.metrics.ordered.WithLabelValues(channel).Inc()
	return &ordererpb.BroadcastResponse{Status: commonpb.Status_SUCCESS}
}

// admit checks an envelope before ordering: well formed, a supported type
// for a channel this orderer serves, within the channel's size limit,
// signed by its creator, and the creator satisfies the channel's Writers
// policy. It returns the envelope's bytes as they will be ordered.
func (o *Orderer) admit(msg *commonpb.Envelope) (*channel, []byte, string, bool, error) {
	raw, err := marshalEnvelope(msg)
	if err != nil {
		return nil, nil, "", false, refuse(commonpb.Status_BAD_REQUEST, "envelope does not encode: %v", err)
	}
	env, err := envelope.ParseEnvelopeMessage(msg)
	if err != nil {
		return nil, nil, "", false, refuse(commonpb.Status_BAD_REQUEST, "malformed envelope: %v", err)
	}
	ch := o.channel(env.ChannelHeader.ChannelId)
	if ch == nil {
		return nil, nil, "", false, refuse(commonpb.Status_NOT_FOUND, "channel %q is not served by this orderer", env.ChannelHeader.ChannelId)
	}
	b := ch.bundle()
	if max := int(b.Config().GetBatch().GetAbsoluteMaxBytes()); max > 0 && len(raw) > max {
		return ch, nil, "", false, refuse(commonpb.Status_REQUEST_ENTITY_TOO_LARGE, "envelope of %d bytes exceeds channel %s's limit of %d bytes", len(raw), ch.id, max)
	}
	isConfig := false
	switch env.Type() {
	case commonpb.HeaderType_ENDORSER_TRANSACTION:
		if err := envelope.CheckTxID(env.TxID(), env.SignatureHeader); err != nil {
			return ch, nil, "", false, refuse(commonpb.Status_BAD_REQUEST, "%v", err)
		}
	case commonpb.HeaderType_CONFIG_UPDATE:
		return ch, nil, "", false, refuse(commonpb.Status_NOT_IMPLEMENTED, "configuration updates are not supported yet on channel %s", ch.id)
	default:
		return ch, nil, "", false, refuse(commonpb.Status_BAD_REQUEST, "header type %v cannot be broadcast", env.Type())
	}
	err = b.CheckSigned(channelconfig.PolicyWriters, channelconfig.SignedData{
		Data: env.PayloadBytes, Identity: env.SignatureHeader.Creator, Signature: env.Signature,
	})
	switch {
	case err == nil:
	case errors.Is(err, channelconfig.ErrBadSignature):
		return ch, nil, "", false, refuse(commonpb.Status_FORBIDDEN, "creator signature: %v", err)
	default:
		return ch, nil, "", false, refuse(commonpb.Status_FORBIDDEN, "creator may not write to channel %s: %v", ch.id, err)
	}
	return ch, raw, env.TxID(), isConfig, nil
}
