package channelconfig

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/ledger"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
)

// TestGenesisBlockLayout checks the genesis block field by field against
// Fabric's layout.
func TestGenesisBlockLayout(t *testing.T) {
	cfg := fixtureConfig(t, "good/full.yaml")
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	nonce := bytes.Repeat([]byte{7}, nonceSize)
	block, err := genesisBlock(cfg, now, nonce)
	if err != nil {
		t.Fatal(err)
	}

	// The ledger's block rules accept it.
	if _, err := ledger.VerifyBlocks([]*commonpb.Block{block}, ledger.VerifyOptions{}); err != nil {
		t.Errorf("ledger.VerifyBlocks: %v", err)
	}

	h := block.GetHeader()
	if h.GetNumber() != 0 || len(h.GetPreviousHash()) != 0 {
		t.Errorf("header number %d, previous hash %x; want 0 and none", h.GetNumber(), h.GetPreviousHash())
	}
	data := block.GetData().GetData()
	if len(data) != 1 {
		t.Fatalf("%d envelopes, want 1", len(data))
	}
	sum := sha256.Sum256(data[0])
	if !bytes.Equal(h.GetDataHash(), sum[:]) {
		t.Errorf("data hash %x, want SHA-256 of the envelope %x", h.GetDataHash(), sum)
	}

	md := block.GetMetadata().GetMetadata()
	if len(md) != 5 {
		t.Fatalf("%d metadata slots, want 5", len(md))
	}
	sigs := &commonpb.Metadata{}
	if err := proto.Unmarshal(md[commonpb.BlockMetadataIndex_SIGNATURES], sigs); err != nil {
		t.Fatal(err)
	}
	obm := &commonpb.OrdererBlockMetadata{}
	if err := proto.Unmarshal(sigs.GetValue(), obm); err != nil {
		t.Fatal(err)
	}
	if obm.GetLastConfig() == nil || obm.GetLastConfig().GetIndex() != 0 || len(sigs.GetSignatures()) != 0 {
		t.Errorf("slot 0 = %v with value %v; want last_config index 0 and no signature", sigs, obm)
	}
	if !bytes.Equal(md[commonpb.BlockMetadataIndex_TRANSACTIONS_FILTER], []byte{0}) {
		t.Errorf("slot 2 = %x, want 00 (VALID)", md[2])
	}
	for _, i := range []int{1, 3, 4} {
		if len(md[i]) != 0 {
			t.Errorf("slot %d = %x, want empty", i, md[i])
		}
	}

	env, err := envelope.ParseEnvelope(data[0])
	if err != nil {
		t.Fatal(err)
	}
	ch := env.ChannelHeader
	if env.Type() != commonpb.HeaderType_CONFIG || ch.GetVersion() != 0 || ch.GetChannelId() != cfg.GetChannelId() || ch.GetEpoch() != 0 {
		t.Errorf("channel header = %v", ch)
	}
	if got := ch.GetTimestamp().AsTime(); !got.Equal(now.Truncate(time.Second)) {
		t.Errorf("timestamp %v, want %v in whole seconds", got, now)
	}
	if want := envelope.TxID(nonce, nil); ch.GetTxId() != want {
		t.Errorf("tx id %s, want %s", ch.GetTxId(), want)
	}
	if !bytes.Equal(env.SignatureHeader.GetNonce(), nonce) || len(env.SignatureHeader.GetCreator()) != 0 || len(env.Signature) != 0 {
		t.Errorf("signature header %v, signature %x; want the nonce, no creator, no signature", env.SignatureHeader, env.Signature)
	}
	want, err := envelope.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.Payload.GetData(), want) {
		t.Error("payload data is not the deterministic encoding of the configuration")
	}
}

func TestGenesisBlocksDiffer(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	a, err := GenesisBlock(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenesisBlock(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Header.DataHash, b.Header.DataHash) {
		t.Error("two genesis blocks of one configuration have the same nonce")
	}
}

func TestGenesisBlockRefuses(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	cfg.Sequence = 3
	if _, err := GenesisBlock(cfg); err == nil || !strings.Contains(err.Error(), "sequence 0") {
		t.Errorf("sequence 3: %v", err)
	}
	cfg.Sequence = 0
	cfg.Batch = nil
	var invalid *InvalidError
	if _, err := GenesisBlock(cfg); !errors.As(err, &invalid) {
		t.Errorf("invalid configuration: %v", err)
	}
}

func TestConfigFromBlockErrors(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	genesis, err := GenesisBlock(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// rebuild returns a copy of the genesis block whose envelope carries
	// payload data and a channel header changed by the functions given.
	rebuild := func(data []byte, header func(*commonpb.ChannelHeader)) *commonpb.Block {
		env, err := envelope.ParseEnvelope(genesis.Data.Data[0])
		if err != nil {
			t.Fatal(err)
		}
		ch := proto.CloneOf(env.ChannelHeader)
		header(ch)
		chBytes, _ := envelope.Marshal(ch)
		payload, _ := envelope.Marshal(&commonpb.Payload{
			Header: &commonpb.Header{ChannelHeader: chBytes, SignatureHeader: env.Payload.Header.SignatureHeader},
			Data:   data,
		})
		raw, _ := envelope.Marshal(&commonpb.Envelope{Payload: payload})
		b := proto.CloneOf(genesis)
		b.Data.Data[0] = raw
		b.Header.DataHash = ledger.DataHash(b.Data.Data)
		return b
	}
	keep := func(*commonpb.ChannelHeader) {}
	good, _ := envelope.Marshal(cfg)
	invalid := proto.CloneOf(cfg)
	invalid.Batch = nil
	invalidBytes, _ := envelope.Marshal(invalid)

	for _, tc := range []struct {
		name  string
		block *commonpb.Block
		want  string
	}{
		{"nil", nil, "channelconfig: not a config block: no header"},
		{"two envelopes", func() *commonpb.Block {
			b := proto.CloneOf(genesis)
			b.Data.Data = append(b.Data.Data, b.Data.Data[0])
			b.Header.DataHash = ledger.DataHash(b.Data.Data)
			return b
		}(), "channelconfig: block 0 is not a config block: it holds 2 envelopes, a config block one"},
		{"data hash", func() *commonpb.Block {
			b := proto.CloneOf(genesis)
			b.Header.DataHash[0] ^= 1
			return b
		}(), "does not match its envelope"},
		{"not an envelope", func() *commonpb.Block {
			b := proto.CloneOf(genesis)
			b.Data.Data[0] = []byte{0xff}
			b.Header.DataHash = ledger.DataHash(b.Data.Data)
			return b
		}(), "channelconfig: block 0: decode envelope"},
		{"endorser transaction", rebuild(good, func(ch *commonpb.ChannelHeader) { ch.Type = int32(commonpb.HeaderType_ENDORSER_TRANSACTION) }),
			"channelconfig: block 0 is not a config block: its envelope is of type ENDORSER_TRANSACTION"},
		{"not a configuration", rebuild([]byte{0xff, 0xff}, keep), "channelconfig: block 0: decode channel configuration"},
		{"invalid configuration", rebuild(invalidBytes, keep), "channelconfig: block 0: channel configuration: batch: missing"},
		{"other channel", rebuild(good, func(ch *commonpb.ChannelHeader) { ch.ChannelId = "other" }),
			`channelconfig: block 0: the envelope is for channel "other", the configuration for "mychannel"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromBlock(tc.block)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ConfigFromBlock error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}

	// An invalid configuration keeps its problems reachable.
	_, err = ConfigFromBlock(rebuild(invalidBytes, keep))
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Errorf("error %v does not unwrap to an *InvalidError", err)
	}
}

func TestIsConfigBlock(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	genesis, err := GenesisBlock(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !IsConfigBlock(genesis) {
		t.Error("genesis block is not a config block")
	}
	tx := proto.CloneOf(genesis)
	env, _ := envelope.ParseEnvelope(tx.Data.Data[0])
	env.ChannelHeader.Type = int32(commonpb.HeaderType_ENDORSER_TRANSACTION)
	chBytes, _ := envelope.Marshal(env.ChannelHeader)
	env.Payload.Header.ChannelHeader = chBytes
	payload, _ := envelope.Marshal(env.Payload)
	tx.Data.Data[0], _ = envelope.Marshal(&commonpb.Envelope{Payload: payload})
	for name, b := range map[string]*commonpb.Block{
		"nil":                  nil,
		"empty":                {},
		"endorser transaction": tx,
		"two envelopes":        {Data: &commonpb.BlockData{Data: [][]byte{genesis.Data.Data[0], genesis.Data.Data[0]}}},
		"garbage":              {Data: &commonpb.BlockData{Data: [][]byte{{1, 2, 3}}}},
	} {
		if IsConfigBlock(b) {
			t.Errorf("IsConfigBlock(%s) = true", name)
		}
	}
}

// TestConfigFromBlockNewerFormat checks the message an old node gives for
// a configuration of a newer format.
func TestConfigFromBlockNewerFormat(t *testing.T) {
	cfg := fixtureConfig(t, "good/minimal.yaml")
	newer := proto.CloneOf(cfg)
	newer.FormatVersion = 2
	env, err := configEnvelope(newer, time.Now(), make([]byte, nonceSize))
	if err != nil {
		t.Fatal(err)
	}
	block := &commonpb.Block{Header: &commonpb.BlockHeader{Number: 9, DataHash: ledger.DataHash([][]byte{env})}, Data: &commonpb.BlockData{Data: [][]byte{env}}}
	_, err = ConfigFromBlock(block)
	if want := "channelconfig: block 9: channel configuration: formatVersion: format 2 was written by a newer Chorus (this build reads format 1 and older): upgrade this node"; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}
