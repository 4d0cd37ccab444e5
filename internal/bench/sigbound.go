package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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
	Cores     int     `json:"cores"`
	SignUS    float64 `json:"sign_us"`   // one ECDSA P-256 signature over a 1 KiB message
	VerifyUS  float64 `json:"verify_us"` // one verification of it
	Signs     int     `json:"signs_per_tx"`
	Verifies  int     `json:"verifies_per_tx"`
	BoundTPS  float64 `json:"bound_tps"`
	Formula   string  `json:"formula"`
	Algorithm string  `json:"algorithm"`
}

// measureSignatureBound times ECDSA P-256 signing and verification as the
// nodes and clients do them (identity.Sign and identity.Verify: SHA-256,
// low-S, ASN.1), on one goroutine, as the median of several batches, and
// computes the bound cores ÷ (5 × sign + 8 × verify).
func measureSignatureBound(batch time.Duration) (SignatureBound, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return SignatureBound{}, err
	}
	msg := make([]byte, 1024)
	if _, err := rand.Read(msg); err != nil {
		return SignatureBound{}, err
	}
	sig, err := identity.Sign(key, msg)
	if err != nil {
		return SignatureBound{}, err
	}
	sign, err := medianBatch(batch, func() error { _, err := identity.Sign(key, msg); return err })
	if err != nil {
		return SignatureBound{}, err
	}
	verify, err := medianBatch(batch, func() error { return identity.Verify(&key.PublicKey, msg, sig) })
	if err != nil {
		return SignatureBound{}, err
	}
	cores := runtime.NumCPU()
	perTx := signsPerTx*sign + verifiesPerTx*verify
	b := SignatureBound{
		Cores: cores, SignUS: round(sign.Seconds()*1e6, 1), VerifyUS: round(verify.Seconds()*1e6, 1),
		Signs: signsPerTx, Verifies: verifiesPerTx, Algorithm: "ECDSA P-256, SHA-256",
		BoundTPS: round(float64(cores)/perTx.Seconds(), 0),
	}
	b.Formula = fmt.Sprintf("cores ÷ (%d × sign + %d × verify) = %d ÷ (%d × %.1f µs + %d × %.1f µs) = %.0f tx/s",
		signsPerTx, verifiesPerTx, cores, signsPerTx, b.SignUS, verifiesPerTx, b.VerifyUS, b.BoundTPS)
	return b, nil
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
