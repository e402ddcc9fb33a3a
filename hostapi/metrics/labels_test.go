package metrics_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/internal/abi"
)

func TestDecodeLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // attrKey of the result, or "!" for an error
	}{
		{"", ""},
		{"a=b", "a=b"},
		{"a=b\n", "a=b"},
		{"a=\nB_2=x=y\n", "a=,B_2=x=y"},
		{"_k=v w", "_k=v w"},
		{"a=b\n\n", "!"}, // an empty pair
		{"a", "!"},
		{"=b", "!"},
		{"a b=c", "!"},
		{"9a=b", "!"},
		{"a=1\na=2", "!"},
		{"a=\xc3", "!"},
		{strings.Repeat("k", metrics.MaxLabelKeyLen) + "=v", strings.Repeat("k", metrics.MaxLabelKeyLen) + "=v"},
		{strings.Repeat("k", metrics.MaxLabelKeyLen+1) + "=v", "!"},
		{"a=" + strings.Repeat("v", abi.MaxMetricLabelsSize), "!"},
	} {
		kvs, err := metrics.DecodeLabels([]byte(c.in))
		got := "!"
		if err == nil {
			got = attrKey(kvs)
		}
		if got != c.want {
			t.Errorf("DecodeLabels(%q) = %q (%v), want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzDecodeLabels: any bytes decode or are refused without panicking;
// what decodes is within the bounds, re-encodes to the same labels, and
// does not alias the input (the guest's memory).
func FuzzDecodeLabels(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b\nc=d\n", "a=1\na=2", "k=\xff", "=", "\n", strings.Repeat("a=b\n", 20)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		kvs, err := metrics.DecodeLabels(b)
		if err != nil {
			return
		}
		if len(b) > abi.MaxMetricLabelsSize || len(kvs) > abi.MaxMetricLabels {
			t.Fatalf("accepted %d bytes, %d labels", len(b), len(kvs))
		}
		var enc strings.Builder
		for _, kv := range kvs {
			v := kv.Value.AsString()
			if !utf8.ValidString(v) || strings.Contains(v, "\n") || len(kv.Key) == 0 {
				t.Fatalf("decoded %q=%q", kv.Key, v)
			}
			enc.WriteString(string(kv.Key) + "=" + v + "\n")
		}
		if got := strings.TrimSuffix(enc.String(), "\n"); got != strings.TrimSuffix(string(in), "\n") {
			t.Fatalf("re-encoded %q, from %q", got, in)
		}
		for i := range b {
			b[i] ^= 0xff
		}
		for i, kv := range kvs {
			kvs2, _ := metrics.DecodeLabels(in)
			if kv != kvs2[i] {
				t.Fatalf("labels changed with the input's bytes: %v", kv)
			}
		}
	})
}
