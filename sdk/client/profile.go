package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Profile says how an application reaches a Chorus network and as whom: the
// JSON client profile that `chorus up` writes under DIR/profiles/ for each
// organization's client and admin. For example:
//
//	{
//	  "mspId": "Org1MSP",
//	  "certPath": "../crypto/org1/client/cert.pem",
//	  "keyPath": "../crypto/org1/client/key.pem",
//	  "endpoint": "127.0.0.1:7401",
//	  "tlsRootCertPath": "../crypto/org1/tlsca.pem",
//	  "serverName": "peer0.org1",
//	  "channel": "mychannel"
//	}
//
// Relative paths are relative to the directory of the profile file.
// LoadProfile resolves them, so the paths of a loaded Profile can be used as
// they are. Fields the package does not know are ignored, so that a profile
// written by a newer `chorus` still loads.
type Profile struct {
	// MSPID is the MSP id of the client's organization. Required.
	MSPID string `json:"mspId"`
	// CertPath is the client's PEM X.509 certificate. Required.
	CertPath string `json:"certPath"`
	// KeyPath is the PEM private key of that certificate. Required.
	KeyPath string `json:"keyPath"`
	// Endpoint is the host:port of a Gateway peer. Required.
	Endpoint string `json:"endpoint"`
	// TLSRootCertPath is the PEM file of the CA certificates that the
	// Gateway peer's TLS certificate must chain to. Required: a client that
	// does not authenticate its Gateway would sign whatever it is sent.
	TLSRootCertPath string `json:"tlsRootCertPath"`
	// ServerName, when set, is the name checked against the Gateway peer's
	// TLS certificate instead of the host of Endpoint.
	ServerName string `json:"serverName,omitempty"`
	// Channel is the channel the application uses by default; see
	// Gateway.DefaultChannel.
	Channel string `json:"channel,omitempty"`
}

// LoadProfile reads the JSON client profile at path, checks that every
// required field is present, and resolves relative file paths against the
// profile's directory. It does not read the files the profile names: Connect
// does.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: reading profile: %w", err)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("client: profile %s: %w", path, describeJSONError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("client: profile %s: unexpected data after the JSON object", path)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("client: profile %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, f := range []*string{&p.CertPath, &p.KeyPath, &p.TLSRootCertPath} {
		if !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	return &p, nil
}

// validate checks that the required fields are present and well formed.
func (p *Profile) validate() error {
	required := []struct{ name, value string }{
		{"mspId", p.MSPID},
		{"certPath", p.CertPath},
		{"keyPath", p.KeyPath},
		{"endpoint", p.Endpoint},
		{"tlsRootCertPath", p.TLSRootCertPath},
	}
	var missing []string
	for _, f := range required {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return fmt.Errorf("field %q is missing or empty", missing[0])
	default:
		return fmt.Errorf("fields %q are missing or empty", missing)
	}
	// A gRPC target with a scheme (dns:///host:port) is passed on as is.
	if !strings.Contains(p.Endpoint, "://") {
		host, port, err := net.SplitHostPort(p.Endpoint)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("field \"endpoint\": %q is not host:port", p.Endpoint)
		}
	}
	return nil
}

// describeJSONError names the field of a JSON type error.
func describeJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Errorf("field %q: want a %s, found a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
