package nettest

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestRefusingAddress(t *testing.T) {
	c, err := net.DialTimeout("tcp", RefusingAddress(t), time.Second)
	if err == nil {
		c.Close()
		t.Fatal("a connection was accepted")
	}
}

func TestSilentAddress(t *testing.T) {
	c, err := net.DialTimeout("tcp", SilentAddress(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v: want no answer", n, err)
	}
}
