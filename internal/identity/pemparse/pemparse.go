// Package pemparse reads the PEM files an identity is made of:
// certificates, certificate revocation lists and private keys. The nodes'
// identities, the channel configuration's validation and the client SDK
// read them alike, with the same refusals.
//
// Errors name what is wrong without naming the caller; each caller
// prefixes them with its own context ("identity: CRL #0 of Org1MSP: ...").
package pemparse

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Certificate parses one PEM block, which must be a CERTIFICATE.
func Certificate(block *pem.Block) (*x509.Certificate, error) {
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("PEM block is %q, want \"CERTIFICATE\"", block.Type)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return cert, nil
}

// Certificates parses every PEM block of data: at least one, and nothing
// but certificates. Its errors number the blocks from 1.
func Certificates(data []byte) ([]*x509.Certificate, error) {
	return every(data, "CERTIFICATE", "certificate", x509.ParseCertificate,
		"no PEM certificate found")
}

// RevocationLists parses every PEM block of data: at least one, and
// nothing but X509 CRLs. It does not check who signed them. Its errors
// number the blocks from 1.
func RevocationLists(data []byte) ([]*x509.RevocationList, error) {
	return every(data, "X509 CRL", "CRL", x509.ParseRevocationList,
		"no PEM block (want an \"X509 CRL\")")
}

// every parses each PEM block of data, which must be of type typ, with
// parse; what names the parsed thing in errors, none is the error when
// data holds no block.
func every[T any](data []byte, typ, what string, parse func([]byte) (T, error), none string) ([]T, error) {
	var parsed []T
	for rest, i := data, 1; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != typ {
			return nil, fmt.Errorf("PEM block %d is %q, want %q", i, block.Type, typ)
		}
		v, err := parse(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: parsing %s: %w", i, what, err)
		}
		parsed = append(parsed, v)
	}
	if len(parsed) == 0 {
		return nil, errors.New(none)
	}
	return parsed, nil
}

// ErrEncryptedKey is returned for a private key PEM that is encrypted
// (PKCS#8 "ENCRYPTED PRIVATE KEY", or SEC1 with a DEK-Info header), which
// Chorus does not read.
var ErrEncryptedKey = errors.New("encrypted private keys are not supported")

// PrivateKey parses the private key of keyPEM: PKCS#8 ("PRIVATE KEY") or
// SEC1 ("EC PRIVATE KEY", possibly after an "EC PARAMETERS" block, as
// openssl writes it). It returns the key as x509 parses it; which kinds of
// key are usable is for the caller to say.
func PrivateKey(keyPEM []byte) (any, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no private key PEM block found")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			if _, encrypted := block.Headers["DEK-Info"]; encrypted {
				return nil, ErrEncryptedKey
			}
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, ErrEncryptedKey
		default:
			return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\" or \"EC PRIVATE KEY\"", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		return key, nil
	}
}
