package worldstate

import (
	"bytes"
	"cmp"
	"strings"
	"testing"

	"github.com/chorusledger/chorus/internal/envelope"
	kvrwsetpb "github.com/chorusledger/chorus/proto/fabric/ledger/rwset/kvrwset"
)

func sign(c int) int { return cmp.Compare(c, 0) }

// FuzzKeyEncoding checks that any (namespace, key) either is rejected
// (invalid namespace) or encodes to state and history keys that decode to
// the same parts, keep (namespace, key[, version]) order, and never nest.
func FuzzKeyEncoding(f *testing.F) {
	f.Add("assets", "asset1", "assets", "asset10", uint64(1), uint64(0), uint64(1), uint64(1))
	f.Add("a", "k\x00", "ab", "", uint64(0), uint64(0), uint64(0), uint64(0))
	f.Add("a", "k\x00\x01", "a", "k\x00\xff", uint64(9), uint64(1), uint64(2), uint64(3))
	f.Add("_lifecycle", "\x00color\x00blue\x00", "_lifecycle", "\x00color\x00", uint64(1<<63), uint64(5), uint64(1), uint64(5))
	f.Add("bad ns", "k", "a\x00b", "k", uint64(0), uint64(0), uint64(0), uint64(0))
	s, err := New("mychannel")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ns1, key1, ns2, key2 string, b1, t1, b2, t2 uint64) {
		v1, v2 := Version{b1, t1}, Version{b2, t2}
		valid1, valid2 := ValidateNamespace(ns1) == nil, ValidateNamespace(ns2) == nil
		// Invalid namespaces and empty keys never reach storage.
		u := s.NewBlockUpdates(1)
		err := u.Add(0, "t", nil, []envelope.NsRWSet{{Namespace: ns1, KV: &kvrwsetpb.KVRWSet{
			Writes: []*kvrwsetpb.KVWrite{{Key: key1, Value: []byte("v")}},
		}}})
		if (err == nil) != (valid1 && key1 != "") {
			t.Fatalf("Add(%q, %q): %v", ns1, key1, err)
		}
		if !valid1 || !valid2 {
			return
		}

		sk1 := appendStateKey(nil, s.statePrefix, ns1, key1)
		sk2 := appendStateKey(nil, s.statePrefix, ns2, key2)
		hk1 := appendHistoryKey(nil, s.historyPrefix, ns1, key1, v1)
		hk2 := appendHistoryKey(nil, s.historyPrefix, ns2, key2, v2)
		for _, c := range []struct {
			ns, key string
			v       Version
			sk, hk  []byte
		}{{ns1, key1, v1, sk1, hk1}, {ns2, key2, v2, sk2, hk2}} {
			ns, key, err := decodeStateKey(s.statePrefix, c.sk)
			if err != nil || ns != c.ns || key != c.key {
				t.Fatalf("state key %q decodes to %q %q %v, want %q %q", c.sk, ns, key, err, c.ns, c.key)
			}
			ns, key, v, err := decodeHistoryKey(s.historyPrefix, c.hk)
			if err != nil || ns != c.ns || key != c.key || v != c.v {
				t.Fatalf("history key %q decodes to %q %q %v %v", c.hk, ns, key, v, err)
			}
		}

		want := cmp.Compare(ns1, ns2)
		if want == 0 {
			want = strings.Compare(key1, key2)
		}
		if got := sign(bytes.Compare(sk1, sk2)); got != want {
			t.Fatalf("state keys of (%q, %q) and (%q, %q) compare %d, want %d", ns1, key1, ns2, key2, got, want)
		}
		wantH := want
		if wantH == 0 {
			wantH = v1.Compare(v2)
		}
		if got := sign(bytes.Compare(hk1, hk2)); got != wantH {
			t.Fatalf("history keys of (%q, %q, %v) and (%q, %q, %v) compare %d, want %d", ns1, key1, v1, ns2, key2, v2, got, wantH)
		}
		// One key's history range holds no other key's records.
		if want != 0 && bytes.HasPrefix(hk2, appendHistoryKeyPrefix(nil, s.historyPrefix, ns1, key1)) {
			t.Fatalf("history key of (%q, %q) lies in the history range of (%q, %q)", ns2, key2, ns1, key1)
		}
		// A namespace's state range holds exactly its keys.
		lo, hi := stateNamespaceBounds(s.statePrefix, ns1)
		inside := bytes.Compare(sk2, lo) >= 0 && bytes.Compare(sk2, hi) < 0
		if inside != (ns1 == ns2) {
			t.Fatalf("state key of (%q, %q) inside namespace %q's range: %v", ns2, key2, ns1, inside)
		}
	})
}

// FuzzDecodeRecords feeds arbitrary bytes to every decoder of stored data:
// none may panic, and whatever decodes must encode back to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	s, err := New("mychannel")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeStateValue(Version{5, 2}, []byte("value")))
	f.Add(encodeStateValue(Version{}, nil))
	h, _ := encodeHistoryValue(historyValue{txID: "abc", seconds: -5, nanos: 7, value: []byte("v")})
	f.Add(h)
	h, _ = encodeHistoryValue(historyValue{txID: "", isDelete: true})
	f.Add(h)
	f.Add([]byte{1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add(appendStateKey(nil, nil, "assets", "k\x00"))
	f.Add(appendHistoryKey(nil, nil, "assets", "k\x00x", Version{1, 2}))
	f.Add([]byte("assets\x00k\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, val, err := decodeStateValue(data); err == nil {
			if got := encodeStateValue(v, val); !bytes.Equal(got, data) {
				t.Fatalf("state record %x re-encodes to %x", data, got)
			}
		}
		if hv, err := decodeHistoryValue(data); err == nil {
			got, err := encodeHistoryValue(hv)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("history record %x re-encodes to %x %v", data, got, err)
			}
		}
		sk := append(bytes.Clone(s.statePrefix), data...)
		if ns, key, err := decodeStateKey(s.statePrefix, sk); err == nil {
			if got := appendStateKey(nil, s.statePrefix, ns, key); !bytes.Equal(got, sk) {
				t.Fatalf("state key %q re-encodes to %q", sk, got)
			}
		}
		hk := append(bytes.Clone(s.historyPrefix), data...)
		if ns, key, v, err := decodeHistoryKey(s.historyPrefix, hk); err == nil {
			if got := appendHistoryKey(nil, s.historyPrefix, ns, key, v); !bytes.Equal(got, hk) {
				t.Fatalf("history key %q re-encodes to %q", hk, got)
			}
		}
		// Keys without the prefix are refused, not misread.
		if len(data) > 0 && data[0] != 'c' {
			if _, _, err := decodeStateKey(s.statePrefix, data); err == nil {
				t.Fatalf("state key %q without the prefix decoded", data)
			}
		}
	})
}
