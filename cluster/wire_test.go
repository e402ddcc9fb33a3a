package cluster

import (
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var wireFrames = []frame{
	{},
	{V: 1, Kind: kindMsg, Node: 1, Dst: 2, Epoch: 1 << 60, Gen: 3, Seq: 123456, From: 1<<48 | 5, To: 2<<48 | 7, Tag: 7, Body: []byte("hello")},
	{V: 255, Kind: kindReq, Node: math.MaxUint16, Dst: 300, Epoch: math.MaxUint64, Gen: math.MaxUint32, Seq: 1 << 32, Ref: 70000, Tag: math.MinInt64, Op: "ward.spawn", Env: []uint64{3, 1 << 40, 0}, ErrIs: 4},
	{Kind: kindExit, Tag: -1, Reason: 9, Text: "noconnection", Body: make([]byte, 70000)},
	{Kind: kindDown, Tag: math.MaxInt64, Reason: math.MaxUint32, Text: "ü"},
}

var wireCmp = cmpopts.EquateEmpty()

// The hand-coded frame is the CBOR array the struct tags describe: the
// general decoder reads it, and the hand decoder reads what the general
// encoder makes.
func TestWireMatchesCBOR(t *testing.T) {
	for i, f := range wireFrames {
		b := appendFrame(nil, &f)
		var g frame
		if err := cbor.Unmarshal(b, &g); err != nil {
			t.Fatalf("frame %d: cbor.Unmarshal of the hand encoding: %v", i, err)
		}
		if d := cmp.Diff(f, g, wireCmp, cmpopts.IgnoreUnexported(frame{})); d != "" {
			t.Fatalf("frame %d through cbor.Unmarshal: %s", i, d)
		}
		lib, err := cbor.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range [][]byte{b, lib} {
			h, ok := decodeFrame(enc)
			if !ok {
				t.Fatalf("frame %d: decodeFrame refused %x", i, enc)
			}
			if d := cmp.Diff(f, *h, wireCmp, cmpopts.IgnoreUnexported(frame{})); d != "" {
				t.Fatalf("frame %d through decodeFrame: %s", i, d)
			}
		}
		// Every strict prefix, and a byte too many, is refused.
		for n := 0; n < len(b); n++ {
			if _, ok := decodeFrame(b[:n]); ok {
				t.Fatalf("frame %d: a %d-byte prefix decoded", i, n)
			}
		}
		if _, ok := decodeFrame(append(b, 0)); ok {
			t.Fatalf("frame %d: trailing data accepted", i)
		}
	}
}

// Numbers out of their field's range, and lengths past the input, are
// refused rather than truncated or allocated.
func TestWireRefusesOutOfRange(t *testing.T) {
	f := frame{Node: 1}
	b := appendFrame(nil, &f)
	// Node is the third element: replace its 0x01 by a 32-bit number.
	bad := append(append([]byte{}, b[:3]...), append([]byte{0x1a, 0, 1, 0, 0}, b[4:]...)...)
	if _, ok := decodeFrame(bad); ok {
		t.Fatal("a node number over 16 bits decoded")
	}
	huge := appendHead(nil, 4, frameFields)
	for range 11 {
		huge = appendHead(huge, 0, 0)
	}
	huge = appendHead(huge, 2, 1<<40) // a byte string longer than the input
	if _, ok := decodeFrame(huge); ok {
		t.Fatal("a byte string past the input decoded")
	}
}
