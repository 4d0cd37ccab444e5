package orderer

import (
	"github.com/chorusledger/chorus/internal/envelope"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	"google.golang.org/protobuf/proto"
)

func unmarshalEnvelope(raw []byte, into *commonpb.Envelope) error { return proto.Unmarshal(raw, into) }

func marshalEnvelope(env *commonpb.Envelope) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(env)
}

// isConfigEnvelope reports whether raw is a CONFIG envelope.
func isConfigEnvelope(raw []byte) bool {
	env := &commonpb.Envelope{}
	if proto.Unmarshal(raw, env) != nil {
		return false
	}
	pl := &commonpb.Payload{}
	if proto.Unmarshal(env.Payload, pl) != nil || pl.Header == nil {
		return false
	}
	ch := &commonpb.ChannelHeader{}
	if proto.Unmarshal(pl.Header.ChannelHeader, ch) != nil {
		return false
	}
	return ch.Type == int32(commonpb.HeaderType_CONFIG)
}

// txIDOf returns an envelope's transaction id, "" when it has none.
func txIDOf(env *commonpb.Envelope) string {
	e, err := envelope.ParseEnvelopeMessage(env)
	if err != nil {
		return ""
	}
	return e.TxID()
}
