//go:build !wasip1

package c

import (
	"bytes"
	"encoding/binary"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestCBORHeaderSanitized builds testdata/cbor_check.c natively with
// AddressSanitizer and UndefinedBehaviorSanitizer and feeds it messages Go
// encodes: it reads every prefix and every one-byte change of each from a
// heap block of exactly its size, so a read past a message is a sanitizer
// failure, and checks that the typed getters and ward_cbor_skip agree on
// what is valid and that errors stick; it also writes into buffers of
// every size short of what a message needs. It skips where no C compiler
// with the sanitizers is installed.
func TestCBORHeaderSanitized(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no cc")
	}
	bin := filepath.Join(t.TempDir(), "cbor_check")
	build := exec.Command(cc, "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
		"-Wall", "-Werror", "-Wno-attributes", "-Wno-unknown-attributes", "-I.", "-o", bin, "testdata/cbor_check.c")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cc cannot build with the sanitizers here: %v\n%s", err, out)
	}
	var seeds bytes.Buffer
	for _, v := range []any{
		statsRequest{Name: "ward", Values: []int64{1, -24, 255, -65536, math.MaxInt64, math.MinInt64}, Data: []byte{1, 2}, Upper: true},
		statsRequest{Extra: []any{[]any{[]any{"é", nil}}, map[string]any{"f": 1.5, "g": float32(2)}, cbor.Tag{Number: 2, Content: []byte{1}}}},
		map[string]uint64{"add": math.MaxUint64},
		[]any{false, true, nil, "", []byte{}, []any{}, map[string]int{}},
	} {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		seeds.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(b))))
		seeds.Write(b)
	}
	run := exec.Command(bin)
	run.Stdin = &seeds
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
}
