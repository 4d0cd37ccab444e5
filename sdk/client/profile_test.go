package client

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadProfileResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "elsewhere", "tlsca.pem")
	path := writeFile(t, filepath.Join(dir, "profiles", "Org1MSP.json"), []byte(`{
		"mspId": "Org1MSP",
		"certPath": "../crypto/org1/client/cert.pem",
		"keyPath": "key.pem",
		"endpoint": "127.0.0.1:7401",
		"tlsRootCertPath": `+jsonString(abs)+`,
		"serverName": "peer0.org1",
		"channel": "mychannel",
		"addedByANewerChorus": {"ignored": true}
	}`))
	p, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{
		MSPID:           "Org1MSP",
		CertPath:        filepath.Join(dir, "crypto", "org1", "client", "cert.pem"),
		KeyPath:         filepath.Join(dir, "profiles", "key.pem"),
		Endpoint:        "127.0.0.1:7401",
		TLSRootCertPath: abs,
		ServerName:      "peer0.org1",
		Channel:         "mychannel",
	}
	if *p != want {
		t.Fatalf("profile = %+v\nwant      %+v", *p, want)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestLoadProfileErrors(t *testing.T) {
	dir := t.TempDir()
	full := map[string]any{
		"mspId": "Org1MSP", "certPath": "c.pem", "keyPath": "k.pem",
		"endpoint": "127.0.0.1:7401", "tlsRootCertPath": "ca.pem",
	}
	without := func(keys ...string) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	with := func(k string, v any) map[string]any {
		m := without()
		m[k] = v
		return m
	}
	encode := func(m map[string]any) string {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, content string
		want          []string
	}{
		{"no mspId", encode(without("mspId")), []string{`"mspId"`, "missing"}},
		{"no certPath", encode(without("certPath")), []string{`"certPath"`}},
		{"no keyPath", encode(without("keyPath")), []string{`"keyPath"`}},
		{"no endpoint", encode(without("endpoint")), []string{`"endpoint"`}},
		{"no tlsRootCertPath", encode(without("tlsRootCertPath")), []string{`"tlsRootCertPath"`}},
		{"blank mspId", encode(with("mspId", "  ")), []string{`"mspId"`}},
		{"several missing", encode(without("keyPath", "endpoint")), []string{`"keyPath"`, `"endpoint"`}},
		{"wrong type", encode(with("mspId", 5)), []string{`"mspId"`, "string", "number"}},
		{"endpoint without port", encode(with("endpoint", "peer0.org1")), []string{`"endpoint"`, "host:port"}},
		{"not JSON", "mspId: Org1MSP", []string{"invalid JSON"}},
		{"trailing data", encode(full) + " {}", []string{"unexpected data"}},
		{"empty", "", []string{"invalid JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json"), []byte(tc.content))
			_, err := LoadProfile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "client: profile "+path) {
				t.Errorf("error %q does not start with \"client: profile <path>\"", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
	// A gRPC target with a scheme is passed through.
	path := writeFile(t, filepath.Join(dir, "dns.json"), []byte(encode(with("endpoint", "dns:///peer0.org1:7401"))))
	if _, err := LoadProfile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProfile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: error %v", err)
	}
	if _, err := Connect(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("Connect to a missing profile succeeded")
	}
}

func TestConnectProfileChecksFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca.org1")
	c := newTestClient(t, ca, "Org1MSP")
	other := newTestClient(t, ca, "Org1MSP")
	writeFile(t, filepath.Join(dir, "cert.pem"), c.id.Certificate)
	writeFile(t, filepath.Join(dir, "key.pem"), c.keyPEM)
	writeFile(t, filepath.Join(dir, "other-key.pem"), other.keyPEM)
	writeFile(t, filepath.Join(dir, "tlsca.pem"), ca.certPEM)
	writeFile(t, filepath.Join(dir, "empty.pem"), []byte("no certificates here"))
	good := Profile{
		MSPID: "Org1MSP", CertPath: filepath.Join(dir, "cert.pem"), KeyPath: filepath.Join(dir, "key.pem"),
		Endpoint: "127.0.0.1:1", TLSRootCertPath: filepath.Join(dir, "tlsca.pem"), Channel: "mychannel",
	}
	gw, err := ConnectProfile(&good)
	if err != nil {
		t.Fatal(err)
	}
	if gw.DefaultChannel() != "mychannel" {
		t.Errorf("DefaultChannel = %q", gw.DefaultChannel())
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	for _, tc := range []struct {
		name   string
		change func(p *Profile)
		want   string
	}{
		{"key of another certificate", func(p *Profile) { p.KeyPath = filepath.Join(dir, "other-key.pem") }, "does not match"},
		{"no TLS root certificates", func(p *Profile) { p.TLSRootCertPath = filepath.Join(dir, "empty.pem") }, "no PEM certificate"},
		{"missing certificate", func(p *Profile) { p.CertPath = filepath.Join(dir, "nope.pem") }, "nope.pem"},
		{"missing key", func(p *Profile) { p.KeyPath = filepath.Join(dir, "nope.pem") }, "nope.pem"},
		{"missing TLS roots", func(p *Profile) { p.TLSRootCertPath = filepath.Join(dir, "nope.pem") }, "nope.pem"},
		{"no endpoint", func(p *Profile) { p.Endpoint = "" }, `"endpoint"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.change(&p)
			if _, err := ConnectProfile(&p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := ConnectProfile(nil); err == nil {
		t.Fatal("nil profile accepted")
	}
}
