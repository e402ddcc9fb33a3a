package cluster

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"

	"github.com/fxamacker/cbor/v2"
	"github.com/nats-io/nkeys"
)

// frameVersion is the wire format's version; a node drops frames of any
// other.
const frameVersion = 1

// kind says what a frame carries.
type kind uint8

const (
	kindMsg kind = iota + 1
	kindLink
	kindUnlink
	kindMonitor
	kindDemonitor
	kindExit
	kindDown
	kindKill
	kindReq   // a call (rpc.go): Op, Ref = call id, Body
	kindRep   // its reply: Ref, Body or Text (the error)
	kindBye   // the sender leaves the cluster
	kindReset // the receiver's session Gen to the sender is over
	kindHB    // heartbeat, on the hb subject
)

// frame is one signal between nodes. Node, Dst, Epoch, Gen and Seq place
// it: sender, receiver, the sender's Join, the sender's session with the
// receiver and its number there. The rest is the signal.
type frame struct {
	V      uint8    `cbor:"1,keyasint"`
	Kind   kind     `cbor:"2,keyasint"`
	Node   uint16   `cbor:"3,keyasint"`
	Dst    uint16   `cbor:"4,keyasint,omitempty"`
	Epoch  uint64   `cbor:"5,keyasint"`
	Gen    uint32   `cbor:"6,keyasint,omitempty"`
	Seq    uint64   `cbor:"7,keyasint,omitempty"`
	From   uint64   `cbor:"8,keyasint,omitempty"`
	To     uint64   `cbor:"9,keyasint,omitempty"`
	Ref    uint64   `cbor:"10,keyasint,omitempty"`
	Tag    int64    `cbor:"11,keyasint,omitempty"`
	Body   []byte   `cbor:"12,keyasint,omitempty"`
	Reason uint32   `cbor:"13,keyasint,omitempty"`
	Text   string   `cbor:"14,keyasint,omitempty"`
	Op     string   `cbor:"15,keyasint,omitempty"`
	Env    []uint64 `cbor:"16,keyasint,omitempty"`
	ErrIs  uint8    `cbor:"17,keyasint,omitempty"`
}

// envelope is a frame on the wire: its encoding and the sender's
// signature (heartbeats) or MAC (frames to one node, see keys.go) of
// exactly those bytes, so a receiver verifies what it decodes.
type envelope struct {
	_    struct{} `cbor:",toarray"`
	Body []byte
	Sig  []byte
}

var errMalformed = errors.New("ward: malformed frame")

// sealMAC encodes f and authenticates it with m (see keys.go).
func sealMAC(m hash.Hash, f *frame) ([]byte, error) {
	f.V = frameVersion
	body, err := cbor.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("ward: encoding a frame: %w", err)
	}
	return cbor.Marshal(envelope{Body: body, Sig: mac(m, body)})
}

// checkMAC reports whether env carries body's MAC under m.
func (env *envelope) checkMAC(m hash.Hash) bool {
	return m != nil && hmac.Equal(mac(m, env.Body), env.Sig)
}

// seal encodes f and signs it with kp.
func seal(kp nkeys.KeyPair, f *frame) ([]byte, error) {
	return sealVersion(kp, f, frameVersion)
}

func sealVersion(kp nkeys.KeyPair, f *frame, v uint8) ([]byte, error) {
	f.V = v
	body, err := cbor.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("ward: encoding a frame: %w", err)
	}
	sig, err := kp.Sign(body)
	if err != nil {
		return nil, fmt.Errorf("ward: signing a frame: %w", err)
	}
	return cbor.Marshal(envelope{Body: body, Sig: sig})
}

// open decodes a frame without checking its signature: the signer is
// known only once the frame names its node. check does the rest.
func open(data []byte) (*frame, *envelope, error) {
	var env envelope
	if err := cbor.Unmarshal(data, &env); err != nil || len(env.Body) == 0 {
		return nil, nil, errMalformed
	}
	f := new(frame)
	if err := cbor.Unmarshal(env.Body, f); err != nil {
		return nil, nil, errMalformed
	}
	return f, &env, nil
}

// check reports whether env was signed by the holder of pub's key.
func (env *envelope) check(pub nkeys.KeyPair) bool {
	return pub != nil && pub.Verify(env.Body, env.Sig) == nil
}
