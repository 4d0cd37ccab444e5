package wasm

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// maxConsoleBytes is how much of its standard output, and of its standard
// error, one invocation may have logged; the rest is counted and dropped.
const maxConsoleBytes = 64 << 10

// console receives what an instance writes to its standard output and
// error (spec §5): kept, bounded, while the instance runs a function, then
// written to the debug log and cleared. It is used only by the goroutine
// that holds the instance.
type console struct {
	stdout, stderr stream
}

// stream is one of the two outputs of a console. It implements io.Writer
// and never fails, so the guest sees the same results of fd_write whatever
// the peer logs.
type stream struct {
	buf     []byte
	dropped int
}

func (s *stream) Write(p []byte) (int, error) {
	room := max(0, maxConsoleBytes-len(s.buf))
	n := min(room, len(p))
	s.buf = append(s.buf, p[:n]...)
	s.dropped += len(p) - n
	return len(p), nil
}

// fatal returns the first line of the stream that reports a Go panic or
// fatal error, as the Go runtime writes it before it exits: "panic: boom",
// "fatal error: out of memory". It is empty when there is none.
func (s *stream) fatal() string {
	for line := range bytes.Lines(s.buf) {
		l := strings.TrimSpace(string(line))
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return cut(strings.ToValidUTF8(l, "\uFFFD"), maxFailureBytes)
		}
	}
	return ""
}

// flush writes what the instance printed to the debug log, a line at a
// time, for the transaction txID ("" outside an invocation), and clears
// the streams.
func (c *console) flush(m *Module, txID string) {
	for _, s := range []struct {
		name string
		*stream
	}{{"stdout", &c.stdout}, {"stderr", &c.stderr}} {
		if len(s.buf) == 0 && s.dropped == 0 {
			continue
		}
		if logger := m.rt.logger; logger.Enabled(context.Background(), slog.LevelDebug) {
			for line := range bytes.Lines(s.buf) {
				line = bytes.TrimRight(line, "\n")
				logger.Debug("wasm: contract output", "module", m.name, "tx", txID, "stream", s.name,
					"line", strings.ToValidUTF8(string(line[:min(len(line), MaxLogLineBytes)]), "\uFFFD"))
			}
			if s.dropped > 0 {
				logger.Debug("wasm: contract output dropped", "module", m.name, "tx", txID, "stream", s.name, "bytes", s.dropped)
			}
		}
		s.buf = s.buf[:0]
		s.dropped = 0
	}
}
