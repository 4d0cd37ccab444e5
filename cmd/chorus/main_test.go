package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "chorus ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version printed %q", out)
	}
	out, err = run(t, "version", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || v.GoVersion == "" {
		t.Fatalf("version --output json printed %q: %v", out, err)
	}
	if _, err := run(t, "version", "--output", "yaml"); err == nil || !strings.Contains(err.Error(), `unknown --output "yaml"`) {
		t.Fatalf("bad output format: %v", err)
	}
}

func TestHelpListsCommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "version") || !strings.Contains(out, "permissioned blockchain") {
		t.Fatalf("help printed %q", out)
	}
}
