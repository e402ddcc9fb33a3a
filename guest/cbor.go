package guest

import "github.com/fxamacker/cbor/v2"

// Typed messages are CBOR (RFC 8949), as the host's runtime.EncodeMessage
// and runtime.DecodeMessage write and read them, so guests and Go code on
// the host (and guests in other languages) exchange the same bytes.

// Encode returns v encoded as CBOR.
func Encode(v any) ([]byte, error) { return cbor.Marshal(v) }

// Decode decodes the message's data, CBOR, into v (a pointer).
func (m Message) Decode(v any) error { return cbor.Unmarshal(m.Data, v) }
