// Package nettest gives tests local addresses of peers that fail in the
// two ways a remote node fails: one where nothing listens (connections are
// refused at once) and one that accepts connections and never answers (a
// hung process, a half-open link). Only tests import it.
package nettest

import (
	"net"
	"sync"
	"testing"
)

// RefusingAddress returns an address on 127.0.0.1 where nothing listens.
func RefusingAddress(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// SilentAddress returns an address on 127.0.0.1 that accepts connections
// and never reads or writes on them, until the test ends.
func SilentAddress(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		held   []net.Conn
		closed bool
	)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed { // accepted as the test ended
				c.Close()
			} else {
				held = append(held, c)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range held {
			c.Close()
		}
	})
	return lis.Addr().String()
}
