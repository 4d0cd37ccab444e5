package peer_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/kv"
	"github.com/chorusledger/chorus/internal/peer"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// A proposal for a channel the peer does not serve is refused, and its
// metrics do not take the channel name it claims as a label: clients
// choose it, and each label would be a series kept for good.
func TestProposalForUnknownChannelIsNotALabel(t *testing.T) {
	db, err := kv.Open(t.TempDir(), kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	ca := vfNewCA(t, "ca.org1", "Org1MSP")
	p, err := peer.New(peer.Options{DB: db, Signer: vfIssue(t, ca, "peer0", identity.RolePeer, time.Hour), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	client := vfIssue(t, ca, "user1", identity.RoleClient, time.Hour)
	const claimed = "channel-chosen-by-the-client"
	sp := signedProposal(t, client, claimed)
	res, err := p.ProcessProposal(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetResponse().GetStatus(); got != 404 {
		t.Fatalf("status %d (%s), want 404", got, res.GetResponse().GetMessage())
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	proposals := 0
	for _, f := range families {
		if f.GetName() == "chorus_peer_proposals_total" {
			proposals = len(f.GetMetric())
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() != "" {
					t.Errorf("%s has channel label %q, want \"\" for a channel not served", f.GetName(), l.GetValue())
				}
			}
		}
	}
	if proposals != 1 {
		t.Errorf("%d series of chorus_peer_proposals_total, want 1", proposals)
	}
	if !strings.Contains(res.GetResponse().GetMessage(), claimed) {
		t.Errorf("refusal %q does not name the channel", res.GetResponse().GetMessage())
	}
}

// signedProposal is a well-formed proposal of client for the assets
// contract on channel.
func signedProposal(t *testing.T, client *identity.SigningIdentity, channel string) *peerpb.SignedProposal {
	t.Helper()
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	creator := client.Serialize()
	contract := &peerpb.ChaincodeID{Name: "assets"}
	ch := vfMarshal(t, &commonpb.ChannelHeader{
		Type:      int32(commonpb.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: channel,
		TxId:      envelope.TxID(nonce, creator),
		Extension: vfMarshal(t, &peerpb.ChaincodeHeaderExtension{ChaincodeId: contract}),
	})
	sh := vfMarshal(t, &commonpb.SignatureHeader{Creator: creator, Nonce: nonce})
	input := vfMarshal(t, &peerpb.ChaincodeInvocationSpec{ChaincodeSpec: &peerpb.ChaincodeSpec{
		ChaincodeId: contract,
		Input:       &peerpb.ChaincodeInput{Args: [][]byte{[]byte("ReadAsset"), []byte("asset1")}},
	}})
	proposal := vfMarshal(t, &peerpb.Proposal{
		Header:  vfMarshal(t, &commonpb.Header{ChannelHeader: ch, SignatureHeader: sh}),
		Payload: vfMarshal(t, &peerpb.ChaincodeProposalPayload{Input: input}),
	})
	sig, err := client.Sign(proposal)
	if err != nil {
		t.Fatal(err)
	}
	return &peerpb.SignedProposal{ProposalBytes: proposal, Signature: sig}
}
