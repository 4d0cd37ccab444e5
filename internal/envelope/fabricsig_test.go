package envelope_test

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	msppb "github.com/chorusledger/chorus/proto/fabric/msp"
	"google.golang.org/protobuf/proto"
)

// mspsFromFabricConfig builds our MSPs from the organizations in a Fabric
// genesis block: each org group's "MSP" value holds a FabricMSPConfig.
func mspsFromFabricConfig(t *testing.T, genesis *commonpb.Block, now time.Time) *identity.Manager {
	t.Helper()
	env, err := envelope.ParseEnvelope(genesis.Data.Data[0])
	if err != nil {
		t.Fatal(err)
	}
	ce := &commonpb.ConfigEnvelope{}
	if err := proto.Unmarshal(env.Payload.Data, ce); err != nil {
		t.Fatal(err)
	}
	var msps []*identity.MSP
	for _, section := range []string{"Application", "Orderer"} {
		for orgName, org := range ce.Config.ChannelGroup.Groups[section].Groups {
			mc := &msppb.MSPConfig{}
			if err := proto.Unmarshal(org.Values["MSP"].Value, mc); err != nil {
				t.Fatalf("%s/%s: %v", section, orgName, err)
			}
			fc := &msppb.FabricMSPConfig{}
			if err := proto.Unmarshal(mc.Config, fc); err != nil {
				t.Fatal(err)
			}
			m, err := identity.NewMSP(identity.MSPConfig{
				ID:                fc.Name,
				RootCerts:         fc.RootCerts,
				IntermediateCerts: fc.IntermediateCerts,
				CRLs:              fc.RevocationList,
				Now:               func() time.Time { return now },
			})
			if err != nil {
				t.Fatalf("MSP %s: %v", fc.Name, err)
			}
			msps = append(msps, m)
		}
	}
	mgr, err := identity.NewManager(msps...)
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// blockHeaderDER is Fabric's ASN.1 encoding of a block header, which block
// signatures cover. (internal/ledger owns the production version; this
// test keeps its own to stay independent of it.)
func blockHeaderDER(t *testing.T, h *commonpb.BlockHeader) []byte {
	t.Helper()
	der, err := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(h.Number), h.PreviousHash, h.DataHash})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestFabricSignaturesVerify checks every creator signature, endorsement
// signature and orderer block signature of the real Fabric blocks with our
// identity package, against MSPs built from the genesis block.
func TestFabricSignaturesVerify(t *testing.T) {
	blocks, _ := loadFabricBlocks(t)
	last, err := envelope.ParseEnvelope(blocks[len(blocks)-1].Data.Data[0])
	if err != nil {
		t.Fatal(err)
	}
	// Validate certificates as of the network's own time.
	now := last.ChannelHeader.Timestamp.AsTime()
	mgr := mspsFromFabricConfig(t, blocks[0], now)

	var creators, endorsements, blockSigs int
	for _, blk := range blocks[1:] {
		for j, raw := range blk.Data.Data {
			env, err := envelope.ParseEnvelope(raw)
			if err != nil {
				t.Fatal(err)
			}
			creator, err := mgr.DeserializeIdentity(env.SignatureHeader.Creator)
			if err != nil {
				t.Fatalf("block %d tx %d: creator: %v", blk.Header.Number, j, err)
			}
			if err := creator.Verify(env.PayloadBytes, env.Signature); err != nil {
				t.Fatalf("block %d tx %d: creator signature: %v", blk.Header.Number, j, err)
			}
			creators++
			tx, err := envelope.ParseEndorserTransaction(env.Payload.Data)
			if err != nil {
				t.Fatal(err)
			}
			for k, e := range tx.Endorsements {
				endorser, err := mgr.DeserializeIdentity(e.Endorser)
				if err != nil {
					t.Fatalf("block %d tx %d endorsement %d: %v", blk.Header.Number, j, k, err)
				}
				if !endorser.HasRole(identity.RolePeer) {
					t.Errorf("block %d tx %d: endorser %v is not a peer", blk.Header.Number, j, endorser)
				}
				msg := envelope.EndorsementSignedBytes(tx.ResponsePayloadBytes, e.Endorser)
				if err := endorser.Verify(msg, e.Signature); err != nil {
					t.Fatalf("block %d tx %d endorsement %d by %s: %v", blk.Header.Number, j, k, endorser.MSPID(), err)
				}
				// A flipped byte in what was signed must be caught.
				bad := bytes.Clone(msg)
				bad[len(bad)/2] ^= 1
				if err := endorser.Verify(bad, e.Signature); err == nil {
					t.Fatal("a tampered endorsement verified")
				}
				endorsements++
			}
		}
		md := &commonpb.Metadata{}
		if err := proto.Unmarshal(blk.Metadata.Metadata[commonpb.BlockMetadataIndex_SIGNATURES], md); err != nil {
			t.Fatal(err)
		}
		for k, s := range md.Signatures {
			sh := &commonpb.SignatureHeader{}
			if err := proto.Unmarshal(s.SignatureHeader, sh); err != nil {
				t.Fatal(err)
			}
			orderer, err := mgr.DeserializeIdentity(sh.Creator)
			if err != nil {
				t.Fatalf("block %d signature %d: %v", blk.Header.Number, k, err)
			}
			if !orderer.HasRole(identity.RoleOrderer) {
				t.Errorf("block %d: signer %v is not an orderer", blk.Header.Number, orderer)
			}
			signed := append(append(bytes.Clone(md.Value), s.SignatureHeader...), blockHeaderDER(t, blk.Header)...)
			if err := orderer.Verify(signed, s.Signature); err != nil {
				t.Fatalf("block %d signature %d: %v", blk.Header.Number, k, err)
			}
			blockSigs++
		}
	}
	// Blocks 1–5: six transactions, 1+1+2+2+2×2 endorsements, five orderer signatures.
	if creators != 6 || endorsements != 10 || blockSigs != 5 {
		t.Fatalf("verified %d creator signatures, %d endorsements, %d block signatures; want 6, 10, 5", creators, endorsements, blockSigs)
	}
}
