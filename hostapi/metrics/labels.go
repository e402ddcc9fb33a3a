package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/wardrt/ward/internal/abi"
)

// ErrLabels is returned by DecodeLabels for an encoding it refuses.
var ErrLabels = errors.New("ward: malformed metric labels")

// MaxLabelKeyLen bounds a label's key.
const MaxLabelKeyLen = 64

// DecodeLabels decodes a guest's label set (ward_metrics.labels): key=value
// pairs, each ended by a newline, the last one's optional. Keys are 1 to
// MaxLabelKeyLen bytes of ASCII letters, digits and '_', not starting with
// a digit, each at most once; values are valid UTF-8 without a newline,
// possibly empty. At most abi.MaxMetricLabels pairs in
// abi.MaxMetricLabelsSize bytes. The result is in the encoding's order
// (attribute.NewSet sorts it). It copies what it keeps, so b may be the
// guest's memory.
func DecodeLabels(b []byte) ([]attribute.KeyValue, error) {
	if len(b) > abi.MaxMetricLabelsSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrLabels, len(b), abi.MaxMetricLabelsSize)
	}
	var out []attribute.KeyValue
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(out) == abi.MaxMetricLabels {
			return nil, fmt.Errorf("%w: more than %d labels", ErrLabels, abi.MaxMetricLabels)
		}
		eq := bytes.IndexByte(line, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%w: pair %d has no '='", ErrLabels, len(out)+1)
		}
		key, val := line[:eq], line[eq+1:]
		if !validKey(key) {
			return nil, fmt.Errorf("%w: key %q", ErrLabels, key)
		}
		if !utf8.Valid(val) {
			return nil, fmt.Errorf("%w: the value of %s is not UTF-8", ErrLabels, key)
		}
		for _, kv := range out {
			if string(kv.Key) == string(key) {
				return nil, fmt.Errorf("%w: key %s twice", ErrLabels, key)
			}
		}
		out = append(out, attribute.String(string(key), string(val)))
	}
	return out, nil
}

func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > MaxLabelKeyLen || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
