package orderer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
)

func env(size int, tag byte) []byte { return bytes.Repeat([]byte{tag}, size) }

// sizes describes batches as their envelopes' tags and sizes, and fails
// the test if an envelope has lost the hash it was added with.
func sizes(t *testing.T, batches []Batch) string {
	t.Helper()
	var s []string
	for _, b := range batches {
		if len(b.Hashes) != len(b.Envelopes) {
			t.Fatalf("batch of %d envelopes carries %d hashes", len(b.Envelopes), len(b.Hashes))
		}
		var tags []string
		for i, e := range b.Envelopes {
			if b.Hashes[i] != sha256.Sum256(e) {
				t.Fatalf("envelope %c%d carries another envelope's hash", e[0], len(e))
			}
			tags = append(tags, fmt.Sprintf("%c%d", e[0], len(e)))
		}
		s = append(s, fmt.Sprint(tags))
	}
	return fmt.Sprint(s)
}

func TestCutter(t *testing.T) {
	cfg := BatchConfig{MaxMessageCount: 3, AbsoluteMaxBytes: 1000, PreferredMaxBytes: 100}
	type step struct {
		env     []byte
		config  bool
		batches string
		pending bool
	}
	cases := []struct {
		name  string
		steps []step
		cut   string // what Cut returns at the end
	}{
		{"count", []step{
			{env(10, 'a'), false, "[]", true},
			{env(10, 'b'), false, "[]", true},
			{env(10, 'c'), false, "[[a10 b10 c10]]", false},
		}, "[]"},
		{"preferred bytes cut the pending batch first", []step{
			{env(60, 'a'), false, "[]", true},
			{env(60, 'b'), false, "[[a60]]", true},
		}, "[b60]"},
		{"exactly the preferred size fits", []step{
			{env(50, 'a'), false, "[]", true},
			{env(50, 'b'), false, "[]", true},
		}, "[a50 b50]"},
		{"oversized envelope alone", []step{
			{env(10, 'a'), false, "[]", true},
			{env(150, 'b'), false, "[[a10] [b150]]", false},
		}, "[]"},
		{"config alone", []step{
			{env(10, 'a'), false, "[]", true},
			{env(10, 'c'), true, "[[a10] [c10]]", false},
			{env(10, 'd'), true, "[[d10]]", false},
		}, "[]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cu := NewCutter(cfg)
			for i, s := range c.steps {
				b, p := cu.Add(s.env, sha256.Sum256(s.env), s.config)
				if got := sizes(t, b); got != s.batches || p != s.pending {
					t.Fatalf("step %d: batches %s pending %v, want %s %v", i, got, p, s.batches, s.pending)
				}
			}
			rest := cu.Cut()
			if got := sizes(t, []Batch{rest}); rest.Len() > 0 && got != "["+c.cut+"]" || rest.Len() == 0 && c.cut != "[]" {
				t.Fatalf("final cut %s, want %s", got, c.cut)
			}
			if cu.Pending() != 0 || cu.Cut().Len() != 0 {
				t.Fatal("cutter not empty after Cut")
			}
		})
	}
}
