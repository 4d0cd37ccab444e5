package node

import (
	"io"
	"log/slog"
	"os"

	"github.com/chorusledger/chorus/internal/node/ops"
)

// NewLogger returns the process's logger, writing to w as cfg says, and the
// level it filters at, which the operations endpoint's /logspec changes at
// run time (see ops.Options.Level). The format is JSON, except text when
// cfg.Format is "text", or "auto" (or empty) and w is a terminal. A level
// that ops.ParseLevel refuses means info; Validate reports it first.
func NewLogger(cfg LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	if l, err := ops.ParseLevel(cfg.Level); err == nil {
		level.Set(l)
	}
	opts := &slog.HandlerOptions{Level: level}
	text := cfg.Format == LogText || (cfg.Format == LogAuto || cfg.Format == "") && isTerminal(w)
	if text {
		return slog.New(slog.NewTextHandler(w, opts)), level
	}
	return slog.New(slog.NewJSONHandler(w, opts)), level
}

// isTerminal tells whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
