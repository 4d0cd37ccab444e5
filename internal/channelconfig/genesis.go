package channelconfig

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	configpb "github.com/chorusledger/chorus/proto/chorus/config"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// nonceSize is the length of the nonce in a config envelope's signature
// header, as Fabric's clients use.
const nonceSize = 24

// GenesisBlock converts the definition into a channel configuration
// (Config, with its validation) and returns the channel's genesis block
// (the package function GenesisBlock).
func (d *Definition) GenesisBlock() (*commonpb.Block, error) {
	cfg, err := d.Config()
	if err != nil {
		return nil, err
	}
	return GenesisBlock(cfg)
}

// GenesisBlock returns block 0 of the channel cfg configures, from which
// orderers and peers join it. cfg must be valid and have sequence 0.
//
// The block is laid out as Fabric lays out a genesis block: one unsigned
// CONFIG envelope whose payload has a channel header (type CONFIG, version
// 0, the time in whole seconds, the channel id, the transaction id
// hex(SHA-256(nonce)) of an empty creator) and a signature header (a random
// 24-byte nonce, no creator), and whose data is the deterministic encoding
// of cfg; a header with number 0, no previous hash, and the data hash
// (SHA-256 of the envelope); and Fabric's five metadata slots: 0 a Metadata
// whose value is an OrdererBlockMetadata with last_config index 0 and no
// signature (orderers do not sign the genesis block), 2 the validation
// code VALID for the one transaction, the others empty.
func GenesisBlock(cfg *configpb.ChannelConfig) (*commonpb.Block, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("channelconfig: genesis block: nonce: %w", err)
	}
	return genesisBlock(cfg, time.Now(), nonce)
}

func genesisBlock(cfg *configpb.ChannelConfig, now time.Time, nonce []byte) (*commonpb.Block, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	if cfg.GetSequence() != 0 {
		return nil, fmt.Errorf("channelconfig: a genesis block holds sequence 0, this configuration has sequence %d", cfg.GetSequence())
	}
	env, err := configEnvelope(cfg, now, nonce)
	if err != nil {
		return nil, err
	}
	value, err := envelope.Marshal(&commonpb.OrdererBlockMetadata{LastConfig: &commonpb.LastConfig{Index: 0}})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: genesis block: %w", err)
	}
	signatures, err := envelope.Marshal(&commonpb.Metadata{Value: value})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: genesis block: %w", err)
	}
	data := [][]byte{env}
	return &commonpb.Block{
		Header: &commonpb.BlockHeader{Number: 0, DataHash: ledger.DataHash(data)},
		Data:   &commonpb.BlockData{Data: data},
		Metadata: &commonpb.BlockMetadata{Metadata: [][]byte{
			signatures,                            // 0 SIGNATURES
			nil,                                   // 1 LAST_CONFIG (superseded by slot 0)
			{byte(peerpb.TxValidationCode_VALID)}, // 2 TRANSACTIONS_FILTER
			nil,                                   // 3 ORDERER
			nil,                                   // 4 COMMIT_HASH
		}},
	}, nil
}

// configEnvelope returns the marshalled, unsigned CONFIG envelope carrying
// cfg.
func configEnvelope(cfg *configpb.ChannelConfig, now time.Time, nonce []byte) ([]byte, error) {
	data, err := envelope.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	ch, err := envelope.Marshal(&commonpb.ChannelHeader{
		Type:      int32(commonpb.HeaderType_CONFIG),
		Version:   0,
		Timestamp: &timestamppb.Timestamp{Seconds: now.Unix()},
		ChannelId: cfg.GetChannelId(),
		TxId:      envelope.TxID(nonce, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	sh, err := envelope.Marshal(&commonpb.SignatureHeader{Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	payload, err := envelope.Marshal(&commonpb.Payload{
		Header: &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh},
		Data:   data,
	})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	env, err := envelope.Marshal(&commonpb.Envelope{Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("channelconfig: %w", err)
	}
	return env, nil
}

// IsConfigBlock reports whether block holds exactly one envelope and that
// envelope is of type CONFIG. It checks the form only; ConfigFromBlock
// also decodes and validates the configuration.
func IsConfigBlock(block *commonpb.Block) bool {
	data := block.GetData().GetData()
	if len(data) != 1 {
		return false
	}
	env, err := envelope.ParseEnvelope(data[0])
	return err == nil && env.Type() == commonpb.HeaderType_CONFIG
}

// ConfigFromBlock returns the configuration a config block carries: the
// block must hold exactly one envelope, matching its data hash, of type
// CONFIG, for the channel the configuration names; the configuration must
// pass Validate. The block is untrusted: errors, never panics.
func ConfigFromBlock(block *commonpb.Block) (*configpb.ChannelConfig, error) {
	if block.GetHeader() == nil {
		return nil, fmt.Errorf("channelconfig: not a config block: no header")
	}
	num := block.GetHeader().GetNumber()
	data := block.GetData().GetData()
	if len(data) != 1 {
		return nil, fmt.Errorf("channelconfig: block %d is not a config block: it holds %d envelopes, a config block one", num, len(data))
	}
	if !bytes.Equal(block.GetHeader().GetDataHash(), ledger.DataHash(data)) {
		return nil, fmt.Errorf("channelconfig: block %d: data hash %x does not match its envelope", num, block.GetHeader().GetDataHash())
	}
	env, err := envelope.ParseEnvelope(data[0])
	if err != nil {
		return nil, wrap(fmt.Sprintf("block %d", num), err)
	}
	if t := env.Type(); t != commonpb.HeaderType_CONFIG {
		return nil, fmt.Errorf("channelconfig: block %d is not a config block: its envelope is of type %s", num, t)
	}
	cfg := &configpb.ChannelConfig{}
	if err := proto.Unmarshal(env.Payload.GetData(), cfg); err != nil {
		return nil, fmt.Errorf("channelconfig: block %d: decode channel configuration: %w", num, err)
	}
	if err := Validate(cfg); err != nil {
		return nil, wrap(fmt.Sprintf("block %d", num), err)
	}
	if got, want := env.ChannelHeader.GetChannelId(), cfg.GetChannelId(); got != want {
		return nil, fmt.Errorf("channelconfig: block %d: the envelope is for channel %q, the configuration for %q", num, got, want)
	}
	return cfg, nil
}

// wrapped adds context to an error whose message may have a package
// prefix, dropping that prefix from the message and keeping the error for
// errors.Is and errors.As.
type wrapped struct {
	prefix  string // "channelconfig: " or ""
	context string
	err     error
}

// wrap returns "channelconfig: <context>: <err without its prefix>".
func wrap(context string, err error) error {
	return &wrapped{prefix: "channelconfig: ", context: context, err: err}
}

// because returns "<context>: <err without its prefix>", for an error that
// an outer one prefixes.
func because(context string, err error) error { return &wrapped{context: context, err: err} }

func (w *wrapped) Error() string {
	return w.prefix + w.context + ": " + trimPrefixes(w.err.Error())
}

func (w *wrapped) Unwrap() error { return w.err }
