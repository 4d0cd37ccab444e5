package abi_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chorusledger/chorus/sdk/contract/abi"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		r       int64
		outcome abi.Outcome
		failLen int64
	}{
		{0, abi.Success, 0},
		{42, abi.Success, 0},
		{math.MaxInt64, abi.Success, 0},
		{-1, abi.NotFound, 0},
		{-2, abi.Failure, 0},
		{-7, abi.Failure, 5},
		{math.MinInt64, abi.Failure, math.MaxInt64 - 1},
	} {
		if got := abi.Classify(tc.r); got != tc.outcome {
			t.Errorf("Classify(%d) = %d, want %d", tc.r, got, tc.outcome)
		}
		if tc.outcome == abi.Failure {
			if got := abi.FailureLen(tc.r); got != tc.failLen {
				t.Errorf("FailureLen(%d) = %d, want %d", tc.r, got, tc.failLen)
			}
		}
	}
	for _, n := range []int{0, 1, 1000} {
		if r := abi.FailureResult(n); abi.Classify(r) != abi.Failure || abi.FailureLen(r) != int64(n) {
			t.Errorf("FailureResult(%d) = %d", n, r)
		}
	}
	if abi.CheckLen(-1) || abi.CheckLen(math.MaxInt32+1) || !abi.CheckLen(0) || !abi.CheckLen(math.MaxInt32) {
		t.Error("CheckLen")
	}
}

// The encodings byte by byte, as §2 writes them.
func TestEncodingsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"bytes", abi.AppendBytes(nil, []byte("ab")), "\x02\x00\x00\x00ab"},
		{"empty list", abi.AppendList(nil, nil), "\x00\x00\x00\x00"},
		{"list", abi.AppendList(nil, [][]byte{[]byte("fn"), {}, []byte("x")}),
			"\x03\x00\x00\x00" + "\x02\x00\x00\x00fn" + "\x00\x00\x00\x00" + "\x01\x00\x00\x00x"},
		{"KV batch", abi.AppendKVBatch(nil, []abi.KV{{Key: "k", Value: []byte("vv")}}),
			"\x01\x00\x00\x00" + "\x01\x00\x00\x00k" + "\x02\x00\x00\x00vv"},
		{"history batch", abi.AppendHistoryBatch(nil, []abi.Modification{
			{TxID: "t", Timestamp: time.Unix(0x0102030405, 7), Value: []byte("v")},
			{TxID: "u", Timestamp: time.Unix(-1, 999999999), IsDelete: true},
		}),
			"\x02\x00\x00\x00" +
				"\x01\x00\x00\x00t" + "\x05\x04\x03\x02\x01\x00\x00\x00" + "\x07\x00\x00\x00" + "\x00" + "\x01\x00\x00\x00v" +
				"\x01\x00\x00\x00u" + "\xff\xff\xff\xff\xff\xff\xff\xff" + "\xff\xc9\x9a\x3b" + "\x01" + "\x00\x00\x00\x00"},
		{"response", abi.AppendResponse(nil, abi.Response{Status: 500, Message: "no", Payload: []byte("p")}),
			"\xf4\x01\x00\x00" + "\x02\x00\x00\x00no" + "\x01\x00\x00\x00p"},
		{"negative status", abi.AppendResponse(nil, abi.Response{Status: -1}),
			"\xff\xff\xff\xff" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: % x, want % x", tc.name, tc.got, tc.want)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	list := [][]byte{[]byte("CreateAsset"), []byte("asset1"), {}, bytes.Repeat([]byte{0, 0xff}, 300)}
	gotList, err := abi.DecodeList(abi.AppendList(nil, list))
	if err != nil || !reflect.DeepEqual(gotList, list) {
		t.Errorf("list: %q, %v", gotList, err)
	}
	if got, err := abi.DecodeList(abi.AppendList(nil, nil)); err != nil || len(got) != 0 {
		t.Errorf("empty list: %q, %v", got, err)
	}

	kvs := []abi.KV{{Key: "a", Value: []byte("1")}, {Key: "\x00ck\x00x\x00", Value: []byte{}}, {Key: "", Value: []byte("z")}}
	gotKVs, err := abi.DecodeKVBatch(abi.AppendKVBatch(nil, kvs))
	if err != nil || !reflect.DeepEqual(gotKVs, kvs) {
		t.Errorf("KV batch: %q, %v", gotKVs, err)
	}

	mods := []abi.Modification{
		{TxID: "tx2", Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), IsDelete: true},
		{TxID: "tx1", Timestamp: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), Value: []byte("v1")},
	}
	gotMods, err := abi.DecodeHistoryBatch(abi.AppendHistoryBatch(nil, mods))
	if err != nil || !reflect.DeepEqual(gotMods, mods) {
		t.Errorf("history batch: %+v, %v", gotMods, err)
	}

	resp := abi.Response{Status: 200, Message: "", Payload: []byte("ok")}
	gotResp, err := abi.DecodeResponse(abi.AppendResponse(nil, resp))
	if err != nil || !reflect.DeepEqual(gotResp, resp) {
		t.Errorf("response: %+v, %v", gotResp, err)
	}

	if got, err := abi.DecodeBytes(abi.AppendBytes(nil, []byte("xyz"))); err != nil || string(got) != "xyz" {
		t.Errorf("bytes: %q, %v", got, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		in     string
	}{
		{"bytes empty", decodeBytes, ""},
		{"bytes short length", decodeBytes, "\x01\x00\x00"},
		{"bytes truncated", decodeBytes, "\x03\x00\x00\x00ab"},
		{"bytes trailing", decodeBytes, "\x01\x00\x00\x00abc"},
		{"list empty input", decodeList, ""},
		{"list huge count", decodeList, "\xff\xff\xff\xff"},
		{"list count too large", decodeList, "\x02\x00\x00\x00\x00\x00\x00\x00"},
		{"list item truncated", decodeList, "\x01\x00\x00\x00\x05\x00\x00\x00abc"},
		{"list trailing", decodeList, "\x00\x00\x00\x00\x00"},
		{"KV missing value", decodeKV, "\x01\x00\x00\x00\x01\x00\x00\x00k\x00\x00\x00"},
		{"KV huge count", decodeKV, "\xff\xff\xff\x7f"},
		{"history truncated", decodeHistory, "\x01\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00"},
		{"history bad nanos", decodeHistory, "\x01\x00\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00\xca\x9a\x3b" + "\x00" + "\x00\x00\x00\x00"},
		{"history negative nanos", decodeHistory, "\x01\x00\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\xff\xff\xff\xff" + "\x00" + "\x00\x00\x00\x00"},
		{"history bad is_delete", decodeHistory, "\x01\x00\x00\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00" + "\x02" + "\x00\x00\x00\x00"},
		{"response truncated", decodeResponse, "\xc8\x00\x00\x00\x00\x00\x00\x00"},
		{"response trailing", decodeResponse, "\xc8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00!"},
	} {
		err := tc.decode([]byte(tc.in))
		if !errors.Is(err, abi.ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", tc.name, err)
		}
	}
}

func decodeBytes(b []byte) error    { _, err := abi.DecodeBytes(b); return err }
func decodeList(b []byte) error     { _, err := abi.DecodeList(b); return err }
func decodeKV(b []byte) error       { _, err := abi.DecodeKVBatch(b); return err }
func decodeHistory(b []byte) error  { _, err := abi.DecodeHistoryBatch(b); return err }
func decodeResponse(b []byte) error { _, err := abi.DecodeResponse(b); return err }

// A delete's value is nil whatever the host sent.
func TestHistoryDeleteValue(t *testing.T) {
	b := abi.AppendHistoryBatch(nil, []abi.Modification{{TxID: "t", Timestamp: time.Unix(1, 0), IsDelete: true, Value: []byte("ignored")}})
	mods, err := abi.DecodeHistoryBatch(b)
	if err != nil || len(mods) != 1 || mods[0].Value != nil || !mods[0].IsDelete {
		t.Errorf("%+v, %v", mods, err)
	}
}

// The fuzz targets check that the decoders never panic, and that what they
// accept encodes back to the same value.

func seeds(f *testing.F, encoded ...[]byte) {
	for _, b := range encoded {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Add([]byte("\x01\x00\x00\x00\xff\xff\xff\xff"))
}

func FuzzDecodeList(f *testing.F) {
	seeds(f, abi.AppendList(nil, [][]byte{[]byte("fn"), []byte("arg")}), abi.AppendList(nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := abi.DecodeList(b)
		if err != nil {
			return
		}
		if re := abi.AppendList(nil, items); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded % x, was % x", re, b)
		}
	})
}

func FuzzDecodeKVBatch(f *testing.F) {
	seeds(f, abi.AppendKVBatch(nil, []abi.KV{{Key: "k", Value: []byte("v")}, {Key: "\x00a\x00", Value: nil}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := abi.DecodeKVBatch(b)
		if err != nil {
			return
		}
		if re := abi.AppendKVBatch(nil, kvs); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded % x, was % x", re, b)
		}
	})
}

func FuzzDecodeHistoryBatch(f *testing.F) {
	seeds(f, abi.AppendHistoryBatch(nil, []abi.Modification{
		{TxID: "t1", Timestamp: time.Unix(1735689600, 5), Value: []byte("v")},
		{TxID: "t0", Timestamp: time.Unix(-5, 0), IsDelete: true},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		mods, err := abi.DecodeHistoryBatch(b)
		if err != nil {
			return
		}
		again, err := abi.DecodeHistoryBatch(abi.AppendHistoryBatch(nil, mods))
		if err != nil || !reflect.DeepEqual(again, mods) {
			t.Fatalf("re-decoded %+v (%v), was %+v", again, err, mods)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	seeds(f, abi.AppendResponse(nil, abi.Response{Status: 200, Message: "m", Payload: []byte("p")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := abi.DecodeResponse(b)
		if err != nil {
			return
		}
		if re := abi.AppendResponse(nil, r); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded % x, was % x", re, b)
		}
	})
}

// TestDecodeNamesTheTruncatedField checks the field names a truncated
// input's error gives, which are put together only on failure.
func TestDecodeNamesTheTruncatedField(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"\x01\x00", "truncated list item count"},
		{"\x02\x00\x00\x00\x04\x00\x00\x00abcd\x05\x00", "truncated list item length"},
		{"\x01\x00\x00\x00\x05\x00\x00\x00abc", "list item of 5 bytes with 3 left"},
	} {
		_, err := abi.DecodeList([]byte(tc.in))
		if !errors.Is(err, abi.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeList(%q) = %v, want an error naming %q", tc.in, err, tc.want)
		}
	}
}
