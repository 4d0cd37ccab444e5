package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/chorusledger/chorus/internal/zerocopy"
	commonpb "github.com/chorusledger/chorus/proto/fabric/common"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// ErrResponsesDiffer is wrapped by AssemblePayload when endorsers returned
// different results; the message says which keys differ.
var ErrResponsesDiffer = errors.New("endorsements do not match")

// AssemblePayload builds the payload of an endorser transaction from a
// proposal and the endorsed responses to it, as Fabric's gateway does: the
// proposal's header bytes, a single action carrying the proposal payload
// without its transient map, the (identical) proposal response payload and
// every distinct endorsement. The client signs the returned bytes.
func AssemblePayload(p *Proposal, responses []*peerpb.ProposalResponse) ([]byte, error) {
	if len(responses) == 0 {
		return nil, errors.New("envelope: no endorsements to assemble")
	}
	prp := responses[0].Payload
	var endorsements []*peerpb.Endorsement
	seen := map[string]bool{}
	for i, r := range responses {
		if r.GetEndorsement() == nil {
			return nil, fmt.Errorf("envelope: response %d carries no endorsement", i)
		}
		if !bytes.Equal(r.Payload, prp) {
			return nil, fmt.Errorf("envelope: %w: %s", ErrResponsesDiffer, DescribeDifference(prp, r.Payload))
		}
		if key := string(r.Endorsement.Endorser); !seen[key] {
			seen[key] = true
			endorsements = append(endorsements, r.Endorsement)
		}
	}
	// The levels inside the payload are encoded one after the other into
	// a pooled buffer, each read while the next is encoded after it; only
	// the payload, which the caller keeps, gets memory of its own.
	scratch := assembleScratch.Get()
	defer assembleScratch.Put(scratch)
	buf := (*scratch)[:0]
	buf, err := MarshalAppend(buf, &peerpb.ChaincodeProposalPayload{Input: p.Payload.Input})
	if err != nil {
		return nil, err
	}
	cpp := buf
	buf, err = MarshalAppend(buf, &peerpb.ChaincodeActionPayload{
		ChaincodeProposalPayload: cpp,
		Action:                   &peerpb.ChaincodeEndorsedAction{ProposalResponsePayload: prp, Endorsements: endorsements},
	})
	if err != nil {
		return nil, err
	}
	actionPayload := buf[len(cpp):]
	buf, err = MarshalAppend(buf, &peerpb.Transaction{Actions: []*peerpb.TransactionAction{{Header: p.Header.SignatureHeader, Payload: actionPayload}}})
	if err != nil {
		return nil, err
	}
	tx := buf[len(cpp)+len(actionPayload):]
	*scratch = buf
	return Marshal(&commonpb.Payload{
		Header: &commonpb.Header{ChannelHeader: p.Header.ChannelHeader, SignatureHeader: p.Header.SignatureHeader},
		Data:   tx,
	})
}

// assembleScratch holds AssemblePayload's buffers for the levels inside a
// payload.
var assembleScratch = NewBufferPool(64 << 10)

// DescribeDifference explains how two proposal response payloads differ:
// which keys were read at other versions or written with other values, or
// which other part differs.
func DescribeDifference(a, b []byte) string {
	ca, errA := decodeAction(a)
	cb, errB := decodeAction(b)
	if errA != nil || errB != nil {
		return "a proposal response payload does not decode"
	}
	var diffs []string
	switch ra, rb := ca.response, cb.response; {
	case ra.GetStatus() != rb.GetStatus():
		diffs = append(diffs, fmt.Sprintf("the contract returned status %d vs %d", ra.GetStatus(), rb.GetStatus()))
	case ra.GetMessage() != rb.GetMessage():
		diffs = append(diffs, fmt.Sprintf("the contract returned different messages (status %d)", ra.GetStatus()))
	case !bytes.Equal(ra.GetPayload(), rb.GetPayload()):
		diffs = append(diffs, fmt.Sprintf("the contract returned different payloads (status %d)", ra.GetStatus()))
	}
	responses := len(diffs)
	for _, ns := range sortedKeys(ca.sets, cb.sets) {
		sa, sb := ca.sets[ns], cb.sets[ns]
		for _, k := range sortedKeys(readMap(sa), readMap(sb)) {
			if va, vb := readMap(sa)[k], readMap(sb)[k]; va != vb {
				diffs = append(diffs, fmt.Sprintf("%s/%s read at %s vs %s", ns, k, va, vb))
			}
		}
		for _, k := range sortedKeys(writeMap(sa), writeMap(sb)) {
			if wa, wb := writeMap(sa)[k], writeMap(sb)[k]; wa != wb {
				diffs = append(diffs, fmt.Sprintf("%s/%s written differently", ns, k))
			}
		}
	}
	keys := diffs[responses:]
	const max = 10
	if len(keys) > max {
		keys = append(keys[:max], fmt.Sprintf("and %d more", len(keys)-max))
	}
	switch {
	case len(keys) > 0 && responses > 0:
		return diffs[0] + "; keys differ: " + strings.Join(keys, "; ")
	case len(keys) > 0:
		return "keys differ: " + strings.Join(keys, "; ")
	case responses > 0:
		return diffs[0]
	case !bytes.Equal(ca.event, cb.event):
		return "the contract set different events"
	}
	return "the proposal response payloads differ outside the read/write sets"
}

type decodedAction struct {
	response *peerpb.Response
	event    []byte
	sets     map[string]*kvrwsetpb.KVRWSet
}

func decodeAction(prpBytes []byte) (*decodedAction, error) {
	prp := &peerpb.ProposalResponsePayload{}
	if err := zerocopy.Unmarshal(prpBytes, prp); err != nil {
		return nil, err
	}
	ca := &peerpb.ChaincodeAction{}
	if err := zerocopy.Unmarshal(prp.Extension, ca); err != nil {
		return nil, err
	}
	_, ns, err := ParseRWSet(ca.Results)
	if err != nil {
		return nil, err
	}
	d := &decodedAction{response: ca.Response, event: ca.Events, sets: map[string]*kvrwsetpb.KVRWSet{}}
	for _, n := range ns {
		d.sets[n.Namespace] = n.KV
	}
	return d, nil
}

func readMap(s *kvrwsetpb.KVRWSet) map[string]string {
	m := map[string]string{}
	for _, r := range s.GetReads() {
		v := "absent"
		if r.Version != nil {
			v = fmt.Sprintf("%d:%d", r.Version.BlockNum, r.Version.TxNum)
		}
		m[r.Key] = v
	}
	return m
}

func writeMap(s *kvrwsetpb.KVRWSet) map[string]string {
	m := map[string]string{}
	for _, w := range s.GetWrites() {
		if w.IsDelete {
			m[w.Key] = "delete"
		} else {
			m[w.Key] = string(w.Value)
		}
	}
	return m
}

func sortedKeys[V any](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
