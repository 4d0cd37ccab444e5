package node

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestSignalContextSIGTERM(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not cancelled by SIGTERM")
	}
	sig, ok := errors.AsType[*SignalError](context.Cause(ctx))
	if !ok || sig.Signal != syscall.SIGTERM {
		t.Errorf("cause = %v, want SIGTERM", context.Cause(ctx))
	}
	if sig.Error() != "node: received terminated" {
		t.Errorf("message %q", sig.Error())
	}
}

func TestSignalContextStop(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	stop()
	stop() // idempotent
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), ErrStopped) {
		t.Errorf("cause = %v, want ErrStopped", context.Cause(ctx))
	}
}

func TestSignalContextParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop := SignalContext(parent)
	defer stop()
	cancel()
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Errorf("cause = %v, want the parent's", context.Cause(ctx))
	}
}
