//go:build !wasip1

package c

import (
	"bytes"
	"context"
	_ "embed"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/runtime"
)

//go:embed examples/stats.wasm
var statsWasm []byte

// statsRequest is what examples/stats.c decodes: a CBOR map.
type statsRequest struct {
	Name   string  `cbor:"name"`
	Values []int64 `cbor:"values"`
	Data   []byte  `cbor:"data"`
	Upper  bool    `cbor:"upper"`
	Extra  any     `cbor:"extra,omitempty"` // a key the server skips
}

// statsReply is what it answers, the fields in the order it writes them.
type statsReply struct {
	Name  string  `cbor:"name"`
	Sum   int64   `cbor:"sum"`
	Count uint64  `cbor:"count"`
	Data  []byte  `cbor:"data"`
	Error *string `cbor:"error"`
}

// statsError is its answer to a request it cannot decode.
type statsError struct {
	Error string `cbor:"error"`
	Code  int    `cbor:"code"`
}

// WARD_CBOR_ERR_* in ward_cbor.h.
const (
	cborTruncated = 101
	cborMalformed = 102
	cborType      = 103
	cborRange     = 104
)

// startStats spawns the C stats server and stops it, checking it ended
// normally (a guest that misread its way into a trap would not), when the
// test ends.
func startStats(t *testing.T) (context.Context, *runtime.Runtime, *runtime.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	mod, err := rt.LoadModule(ctx, "stats", statsWasm)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rt.Environment().Spawn(ctx, mod, "stats_server")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Send(ctx, runtime.Message{Tag: 0}); err != nil {
			t.Errorf("stopping the server: %v", err)
			return
		}
		if reason, err := srv.Wait(ctx); err != nil || !reason.Normal() {
			t.Errorf("server ended: %v, %v", reason, err)
		}
	})
	return ctx, rt, srv
}

// TestCBORFromHost sends the C server requests made by
// runtime.EncodeMessage and decodes its replies with
// runtime.DecodeMessage; the reply's bytes must also be exactly Go's
// encoding of the same struct, so ward_cbor.h writes the shortest forms.
func TestCBORFromHost(t *testing.T) {
	ctx, rt, srv := startStats(t)
	big := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, tc := range []struct {
		name string
		req  statsRequest
		want statsReply
	}{
		{"plain", statsRequest{Name: "ward", Values: []int64{1, 2, 3}, Data: []byte("abc")},
			statsReply{Name: "ward", Sum: 6, Count: 3, Data: []byte("cba")}},
		{"upper", statsRequest{Name: "héllo, ward", Upper: true, Values: []int64{-1, -1000, 24, 256, 70000}},
			statsReply{Name: "HéLLO, WARD", Sum: -1 + -1000 + 24 + 256 + 70000, Count: 5, Data: []byte{}}},
		{"nulls", statsRequest{}, // nil slices encode as null
			statsReply{Data: []byte{}}},
		{"extremes", statsRequest{Values: []int64{math.MaxInt64, math.MinInt64, -1}},
			statsReply{Sum: -2, Count: 3, Data: []byte{}}},
		{"unknown key", statsRequest{Name: "x", Extra: map[string]any{
			"nested": []any{[]any{[]any{1.5, nil, true}}, map[int]string{-7: "ü"}},
			"tagged": cbor.Tag{Number: 1, Content: uint64(1_700_000_000)},
			"bytes":  []byte{0, 1, 2}}},
			statsReply{Name: "x", Data: []byte{}}},
		{"large", statsRequest{Name: strings.Repeat("n", 70_000), Data: big},
			statsReply{Name: strings.Repeat("n", 70_000), Data: reversed(big)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := runtime.EncodeMessage(0, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			reply, err := rt.Request(ctx, srv.ID(), m)
			if err != nil {
				t.Fatal(err)
			}
			var got statsReply
			if err := runtime.DecodeMessage(reply, &got); err != nil {
				t.Fatalf("decoding the reply % x: %v", head(reply.Data), err)
			}
			if got.Error != nil {
				t.Fatalf("server answered error %q", *got.Error)
			}
			if got.Name != tc.want.Name || got.Sum != tc.want.Sum || got.Count != tc.want.Count || !bytes.Equal(got.Data, tc.want.Data) {
				t.Errorf("reply %+.60v, want %+.60v", got, tc.want)
			}
			want, err := cbor.Marshal(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reply.Data, want) {
				t.Errorf("reply bytes % x, want Go's encoding % x", head(reply.Data), head(want))
			}
		})
	}
}

// TestCBORHostileInput sends the C server data that is not a valid
// request: each must be answered with the WARD_CBOR_ERR_* code that
// names what is wrong, never a reply decoded from bytes past the message
// or a trap (startStats checks the server ends normally).
func TestCBORHostileInput(t *testing.T) {
	ctx, rt, srv := startStats(t)
	ask := func(t *testing.T, data []byte) statsError {
		t.Helper()
		reply, err := rt.Request(ctx, srv.ID(), runtime.Message{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		var got statsError
		if err := runtime.DecodeMessage(reply, &got); err != nil {
			t.Fatalf("decoding the reply % x: %v", head(reply.Data), err)
		}
		return got
	}
	deep := append(bytes.Repeat([]byte{0x81}, 1_000_000), 0x00) // [[[...[0]...]]]
	for _, tc := range []struct {
		name string
		data []byte
		code int
	}{
		{"empty", nil, cborTruncated},
		{"map of 2^32 pairs", []byte{0xba, 0xff, 0xff, 0xff, 0xff}, cborTruncated},
		{"map of 2^64-1 pairs", []byte{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, cborTruncated},
		{"key longer than the message", []byte{0xa1, 0x7a, 0xff, 0xff, 0xff, 0xf0, 'n'}, cborTruncated},
		{"bytes longer than the message", []byte{0xa1, 0x64, 'd', 'a', 't', 'a', 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2}, cborTruncated},
		{"values of 2^31 items", []byte{0xa1, 0x66, 'v', 'a', 'l', 'u', 'e', 's', 0x9a, 0x80, 0, 0, 0, 1}, cborTruncated},
		// 2^63 pairs are 2^64 items: a skip that counted them in 64 bits
		// would wrap to none and accept the message.
		{"skipped map of 2^63 pairs", []byte{0xa1, 0x61, 'x', 0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0}, cborTruncated},
		{"head cut short", []byte{0xa1, 0x64, 'n', 'a', 'm', 'e', 0x79, 0x01}, cborTruncated},
		{"reserved additional info", []byte{0xbc}, cborMalformed},
		{"indefinite map", []byte{0xbf, 0xff}, cborMalformed},
		{"break alone", []byte{0xff}, cborMalformed},
		{"trailing bytes", []byte{0xa0, 0x00}, cborMalformed},
		{"invalid UTF-8 name", []byte{0xa1, 0x64, 'n', 'a', 'm', 'e', 0x62, 0xc3, 0x28}, cborMalformed},
		{"surrogate in a key", []byte{0xa1, 0x63, 0xed, 0xa0, 0x80, 0x00}, cborMalformed},
		{"invalid UTF-8 in a skipped key", []byte{0xa1, 0x61, 'x', 0x61, 0xff}, cborMalformed},
		{"two-byte simple value below 32", []byte{0xa1, 0x61, 'x', 0xf8, 0x10}, cborMalformed},
		{"array, not a map", []byte{0x80}, cborType},
		{"integer key", []byte{0xa1, 0x01, 0x02}, cborType},
		{"text values", []byte{0xa1, 0x66, 'v', 'a', 'l', 'u', 'e', 's', 0x81, 0x61, '1'}, cborType},
		{"upper as an integer", []byte{0xa1, 0x65, 'u', 'p', 'p', 'e', 'r', 0x01}, cborType},
		{"value below int64", []byte{0xa1, 0x66, 'v', 'a', 'l', 'u', 'e', 's', 0x81, 0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0}, cborRange},
		{"sum past int64", mustEncode(t, statsRequest{Values: []int64{math.MaxInt64, 1}}), cborRange},
		{"deep nesting cut short", append([]byte{0xa1, 0x61, 'x'}, deep[:len(deep)-1]...), cborTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ask(t, tc.data); got.Code != tc.code {
				t.Errorf("% x: answered %+v, want code %d", head(tc.data), got, tc.code)
			}
		})
	}

	// A million nested arrays under an unknown key is well formed: skipped
	// without recursion, so without running out of stack.
	t.Run("deep nesting skipped", func(t *testing.T) {
		data := append([]byte{0xa2, 0x61, 'x'}, deep...)
		data = append(data, 0x64, 'n', 'a', 'm', 'e', 0x62, 'o', 'k')
		reply, err := rt.Request(ctx, srv.ID(), runtime.Message{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		var got statsReply
		if err := runtime.DecodeMessage(reply, &got); err != nil || got.Error != nil || got.Name != "ok" {
			t.Errorf("reply %+v, %v; want name ok", got, err)
		}
	})

	// Every proper prefix of a valid request ends inside an item.
	t.Run("every truncation", func(t *testing.T) {
		full := mustEncode(t, statsRequest{Name: "ward", Values: []int64{1, -300, 70000, math.MinInt64}, Data: []byte{1, 2, 3},
			Upper: true, Extra: []any{"é", []byte{9}, map[string]int{"a": -1}, true, nil, 2.5}})
		for n := range len(full) {
			if got := ask(t, full[:n]); got.Code != cborTruncated {
				t.Fatalf("first %d of %d bytes: answered %+v, want code %d", n, len(full), got, cborTruncated)
			}
		}
	})
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	m, err := runtime.EncodeMessage(0, v)
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

// head shortens data for a failure message.
func head(b []byte) []byte { return b[:min(len(b), 32)] }

// TestCBORClient runs the C client: it encodes a request with
// ward_cbor.h, sends it to a C stats server with ward_cbor_request, decodes
// the reply and reports part of it with ward_cbor_send, which Go decodes.
func TestCBORClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	mod, err := rt.LoadModule(ctx, "stats", statsWasm)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan runtime.Message, 1)
	collector, err := rt.Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx, 1)
		if err == nil {
			reports <- m
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Environment().Spawn(ctx, mod, "stats_client", runtime.I64(int64(collector.ID())))
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := p.Wait(ctx); err != nil || !reason.Normal() {
		t.Fatalf("client ended: %v, %v", reason, err)
	}
	select {
	case m := <-reports:
		var got struct {
			Name string `cbor:"name"`
			Sum  int64  `cbor:"sum"`
		}
		if err := runtime.DecodeMessage(m, &got); err != nil {
			t.Fatal(err)
		}
		if got.Name != "FROM C" || got.Sum != 41 {
			t.Errorf("report %+v, want name FROM C, sum 41", got)
		}
	case <-ctx.Done():
		t.Fatal("no report from the client")
	}
}
