package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewLoggerFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		json   bool
	}{{LogJSON, true}, {LogText, false}, {LogAuto, true}, {"", true}} {
		var buf bytes.Buffer
		logger, _ := NewLogger(LogConfig{Level: "info", Format: tc.format}, &buf)
		logger.Info("hello", "height", 12)
		line := buf.String()
		var obj map[string]any
		isJSON := json.Unmarshal([]byte(line), &obj) == nil
		if isJSON != tc.json {
			t.Errorf("format %q wrote %q; JSON = %v, want %v", tc.format, line, isJSON, tc.json)
		}
		if !tc.json && !strings.Contains(line, "msg=hello height=12") {
			t.Errorf("format %q wrote %q", tc.format, line)
		}
	}
}

func TestNewLoggerAutoOnFiles(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file taken for a terminal")
	}
	// A character device, as a terminal is, gets text.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if !isTerminal(null) {
		t.Errorf("%s is not taken for a character device", os.DevNull)
	}
	logger, _ := NewLogger(LogConfig{Level: "info", Format: LogAuto}, null)
	if _, ok := logger.Handler().(*slog.TextHandler); !ok {
		t.Errorf("auto on a character device: %T, want a text handler", logger.Handler())
	}
}

func TestNewLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	logger, level := NewLogger(LogConfig{Level: "warn", Format: LogJSON}, &buf)
	logger.Info("hidden")
	logger.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("at warn: %s", buf.String())
	}
	level.Set(slog.LevelDebug)
	logger.Debug("now shown")
	if !strings.Contains(buf.String(), "now shown") {
		t.Errorf("after setting debug: %s", buf.String())
	}
	if _, level := NewLogger(LogConfig{Level: "bogus"}, &buf); level.Level() != slog.LevelInfo {
		t.Errorf("an unknown level gives %v, want info", level.Level())
	}
}
