package identity

import "errors"

// Errors that callers branch on. Match them with errors.Is: the errors this
// package returns carry a specific message (naming the certificate, the MSP,
// the serial number, ...) and match one of these values.
var (
	// ErrBadSignature matches every rejected signature: one that does not
	// verify, one that is malformed, one with a high S.
	ErrBadSignature = errors.New("identity: signature does not verify")

	// ErrHighS is returned for an ECDSA signature whose S is above N/2.
	// Fabric's verifiers refuse these, so Chorus does too. It matches
	// ErrBadSignature.
	ErrHighS error = &signatureError{"identity: signature has high S"}

	// ErrMalformedSignature is returned for an ECDSA signature that is not the
	// DER encoding of SEQUENCE { INTEGER r, INTEGER s } with 0 < r, s < N, or an
	// Ed25519 signature of the wrong length. It matches ErrBadSignature.
	ErrMalformedSignature error = &signatureError{"identity: malformed signature (want DER SEQUENCE { INTEGER r, INTEGER s } for ECDSA, 64 bytes for Ed25519)"}

	// ErrUnsupportedKey is returned for keys other than ECDSA P-256 and Ed25519.
	ErrUnsupportedKey = errors.New("identity: unsupported key (want ECDSA P-256 or Ed25519)")

	// ErrMalformedIdentity is returned when serialized identity bytes are not
	// a msp.SerializedIdentity holding a PEM certificate.
	ErrMalformedIdentity = errors.New("identity: malformed serialized identity")

	// ErrUnknownMSP is returned by a Manager for an MSP id it does not hold.
	ErrUnknownMSP = errors.New("identity: unknown MSP")

	// ErrMSPMismatch is returned when an identity names another MSP than the
	// one asked to validate it.
	ErrMSPMismatch = errors.New("identity: MSP id mismatch")

	// ErrExpired is returned for a certificate (of the identity or of its
	// chain) whose NotAfter is in the past.
	ErrExpired = errors.New("identity: certificate expired")

	// ErrNotYetValid is returned for a certificate whose NotBefore is in the
	// future.
	ErrNotYetValid = errors.New("identity: certificate not yet valid")

	// ErrRevoked is returned for a certificate listed in a CRL of its MSP.
	ErrRevoked = errors.New("identity: certificate revoked")

	// ErrUnknownCA is returned for a certificate that does not chain to a
	// root CA of the MSP.
	ErrUnknownCA = errors.New("identity: certificate issued by an unknown CA")

	// ErrInvalidCertificate is returned for a certificate refused for any
	// other reason: a CA certificate used as an identity, a missing or
	// ambiguous role OU, a chain that breaks a constraint.
	ErrInvalidCertificate = errors.New("identity: invalid certificate")
)

// signatureError is a sentinel that also matches ErrBadSignature, so callers
// can test for "any bad signature" or for the specific reason.
type signatureError struct{ msg string }

func (e *signatureError) Error() string        { return e.msg }
func (e *signatureError) Is(target error) bool { return target == ErrBadSignature }

// kindError carries a specific message, matches its kind (one of the sentinels
// above) with errors.Is, and unwraps to its cause, if any.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

// newKindError builds a kindError; cause may be nil.
func newKindError(kind error, cause error, msg string) error {
	return &kindError{kind: kind, msg: msg, cause: cause}
}
