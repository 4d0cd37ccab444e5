package peer_test

import (
	"fmt"
	"testing"

	"github.com/chorusledger/chorus/internal/channelconfig"
	"github.com/chorusledger/chorus/internal/envelope"
	"github.com/chorusledger/chorus/internal/identity"
	"github.com/chorusledger/chorus/internal/peer"
	peerpb "github.com/chorusledger/chorus/proto/fabric/peer"
)

// BenchmarkValidate500 validates a block of 500 CreateAsset-like
// transactions (read an absent key, write it, emit an event), each
// endorsed by a peer of Org1MSP and one of Org2MSP under
// AND('Org1MSP.peer','Org2MSP.peer'): three ECDSA verifications per
// transaction (creator, two endorsers). It reports transactions per
// second of Prepare+Finish.
//
//   - cold: the signatures were never seen (a signature cache of one
//     entry, so every verification computes), as for a block from the
//     orderer whose transactions this peer did not endorse;
//   - warm: every signature is in the cache, as for a block this peer
//     already validated (or whose endorsements it made itself).
//
// Identities stay cached by their MSPs in both cases, as on a running peer.
func BenchmarkValidate500(b *testing.B) {
	f := newValidatorFixture(b, peer.ValidatorOptions{})
	var envs [][]byte
	for i := range 500 {
		key := fmt.Sprintf("asset%06d", i)
		envs = append(envs, f.env(vfTx{
			rw:    []envelope.NsRWSet{{Namespace: "assets", KV: vfKV(vfRead(key, nil), vfWrite(key, `{"ID":"`+key+`","Color":"blue","Size":5,"Owner":"Tomoko","AppraisedValue":300}`))}},
			event: &peerpb.ChaincodeEvent{ChaincodeId: "assets", EventName: "CreateAsset", Payload: []byte(key)},
		}))
	}
	block := f.block(envs...)
	for _, c := range []struct {
		name    string
		workers int
		cache   *identity.SignatureCache
		warm    bool
	}{
		{"cold/workers=1", 1, identity.NewSignatureCache(1), false},
		{"cold/workers=2", 2, identity.NewSignatureCache(1), false},
		{"warm/workers=2", 2, identity.NewSignatureCache(0), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			bundle := f.newBundle(nil, c.cache)
			v, err := peer.NewValidator(f.state, peer.ValidatorOptions{Workers: c.workers})
			if err != nil {
				b.Fatal(err)
			}
			validate := func(bundle *channelconfig.Bundle) {
				res, err := v.Validate(block, bundle, f.db, f.definitions(), vfSeen())
				if err != nil {
					b.Fatal(err)
				}
				for i, code := range res.Codes {
					if code != peerpb.TxValidationCode_VALID {
						b.Fatalf("tx %d: %v %s", i, code, res.Reasons[i])
					}
				}
			}
			validate(bundle) // caches identities (and, when warm, signatures)
			b.ResetTimer()
			for b.Loop() {
				validate(bundle)
			}
			b.ReportMetric(float64(b.N*len(envs))/b.Elapsed().Seconds(), "tx/s")
			if st := c.cache.Stats(); c.warm && st.Misses > uint64(3*len(envs)) {
				b.Errorf("warm cache missed %d times", st.Misses)
			}
		})
	}
}
