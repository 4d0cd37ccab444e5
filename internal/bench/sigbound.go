package bench

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/chorusledger/chorus/internal/identity"
)

// The signature operations one transaction costs across the network
// (DESIGN §11): the client signs the proposal, the envelope and the
// commit-status request and two endorsers sign their responses; the two
// endorsers verify the proposal, the orderer the envelope, each of the two
// committing peers the creator and the other organization's endorsement,
// and the Gateway the commit-status request.
const (
	signsPerTx    = 5
	verifiesPerTx = 8
)

// SignatureBound is the most transactions per second the machine's
// signature arithmetic allows, measured in the run.
type SignatureBound struct {
	Cores  int     `json:"cores"`
	SignUS float64 `json:"sign_us"` // one ECDSA P-256 signature over a 1 KiB message
	// VerifyUS is one verification of such a signature as a node computes
	// it for a key that signs often: through its signature cache, with the
	// key's precomputed table (ADR 0009).
	VerifyUS float64 `json:"verify_us"`
	// VerifyNewKeyUS is one verification by a key the node has no table
	// for, crypto/ecdsa's arithmetic; the bound does not use it.
	VerifyNewKeyUS float64 `json:"verify_new_key_us"`
	Signs          int     `json:"signs_per_tx"`
	Verifies       int     `json:"verifies_per_tx"`
	BoundTPS       float64 `json:"bound_tps"`
	Formula        string  `json:"formula"`
	Algorithm      string  `json:"algorithm"`
}

// verifyMessages is the number of distinct signed messages the timing of
// verifications goes round: a node verifies each signature once.
const verifyMessages = 64

// measureSignatureBound times ECDSA P-256 signing and verification as the
// nodes and clients do them (SHA-256, low S, ASN.1 DER; verification by an
// MSP's identity through a signature cache that has the key's table, on
// signatures it has not seen), on one goroutine, as the median of several
// batches, and computes the bound cores ÷ (5 × sign + 8 × verify).
func measureSignatureBound(batch time.Duration) (SignatureBound, error) {
	cache := identity.NewSignatureCache(1)
	signer, verifier, err := benchIdentity(cache)
	if err != nil {
		return SignatureBound{}, fmt.Errorf("signature bound: %w", err)
	}
	msgs := make([][]byte, verifyMessages)
	sigs := make([][]byte, verifyMessages)
	for i := range msgs {
		msgs[i] = make([]byte, 1024)
		if _, err := rand.Read(msgs[i]); err != nil {
			return SignatureBound{}, err
		}
		if sigs[i], err = signer.Sign(msgs[i]); err != nil {
			return SignatureBound{}, err
		}
	}
	sign, err := medianBatch(batch, func() error { _, err := signer.Sign(msgs[0]); return err })
	if err != nil {
		return SignatureBound{}, err
	}
	// The key's table is computed at its 16th verification: go round the
	// messages once first. The cache holds one signature, so each
	// verification is of a signature it does not hold.
	next := 0
	verifyNext := func() error {
		i := next % verifyMessages
		next++
		return verifier.Verify(msgs[i], sigs[i])
	}
	for range verifyMessages {
		if err := verifyNext(); err != nil {
			return SignatureBound{}, err
		}
	}
	if cache.Stats().KeyTables != 1 {
		return SignatureBound{}, fmt.Errorf("signature bound: the signing key got no precomputed table after %d verifications", verifyMessages)
	}
	verify, err := medianBatch(batch, verifyNext)
	if err != nil {
		return SignatureBound{}, err
	}
	newKey, err := medianBatch(batch, func() error {
		return identity.Verify(verifier.PublicKey(), msgs[0], sigs[0])
	})
	if err != nil {
		return SignatureBound{}, err
	}
	cores := runtime.NumCPU()
	perTx := signsPerTx*sign + verifiesPerTx*verify
	b := SignatureBound{
		Cores: cores, SignUS: round(sign.Seconds()*1e6, 1), VerifyUS: round(verify.Seconds()*1e6, 1),
		VerifyNewKeyUS: round(newKey.Seconds()*1e6, 1),
		Signs:          signsPerTx, Verifies: verifiesPerTx, Algorithm: "ECDSA P-256, SHA-256",
		BoundTPS: round(float64(cores)/perTx.Seconds(), 0),
	}
	b.Formula = fmt.Sprintf("cores ÷ (%d × sign + %d × verify) = %d ÷ (%d × %.1f µs + %d × %.1f µs) = %.0f tx/s",
		signsPerTx, verifiesPerTx, cores, signsPerTx, b.SignUS, verifiesPerTx, b.VerifyUS, b.BoundTPS)
	return b, nil
}

// benchIdentity returns a client's signing identity and the same identity
// as an MSP with the signature cache cache validates it, from a CA made for
// the measurement.
func benchIdentity(cache *identity.SignatureCache) (*identity.SigningIdentity, *identity.Identity, error) {
	const mspID = "SignatureBoundMSP"
	ca, err := identity.NewCA("signature-bound-ca", mspID, 2*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	certPEM, keyPEM, err := ca.Issue("signature-bound-client", identity.RoleClient, time.Hour)
	if err != nil {
		return nil, nil, err
	}
	signer, err := identity.LoadSigningIdentity(mspID, certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	msp, err := identity.NewMSP(identity.MSPConfig{
		ID: mspID, RootCerts: [][]byte{ca.CertificatePEM()}, SignatureCache: cache,
	})
	if err != nil {
		return nil, nil, err
	}
	verifier, err := msp.DeserializeIdentity(signer.Serialize())
	if err != nil {
		return nil, nil, err
	}
	return signer, verifier, nil
}

// medianBatch runs f in 7 batches of about d each and returns the median
// time per call.
func medianBatch(d time.Duration, f func() error) (time.Duration, error) {
	const batches = 7
	per := make([]time.Duration, 0, batches)
	for range batches {
		start := time.Now()
		n := 0
		for time.Since(start) < d || n < 10 {
			if err := f(); err != nil {
				return 0, err
			}
			n++
		}
		per = append(per, time.Since(start)/time.Duration(n))
	}
	slices.Sort(per)
	return per[batches/2], nil
}
