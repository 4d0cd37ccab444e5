package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// SignalError is the cause of a SignalContext's cancellation by a signal;
// read it with context.Cause and errors.As.
type SignalError struct {
	// Signal is the signal received: SIGTERM or SIGINT.
	Signal os.Signal
}

func (e *SignalError) Error() string { return fmt.Sprintf("node: received %v", e.Signal) }

// ErrStopped is the cause of a SignalContext's cancellation by its stop
// function.
var ErrStopped = errors.New("node: stopped")

// SignalContext returns a context that is cancelled when the process
// receives SIGTERM or SIGINT, with a *SignalError as its cause, and a
// function that releases the signals and cancels the context (ErrStopped).
// Call stop when the process is done, typically deferred.
//
// Only the first signal is caught: once it has cancelled the context the
// signals are released, so a second SIGTERM or SIGINT (a second Ctrl-C)
// ends the process at once, with the default action, if the drain hangs.
// See the package documentation for what the caller owes once the context
// is done.
func SignalContext(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
		cancel(ErrStopped)
	}
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&SignalError{Signal: sig})
		case <-ctx.Done():
			signal.Stop(ch)
		case <-done:
		}
	}()
	return ctx, stop
}
