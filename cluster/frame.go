package cluster

import (
	"crypto/hmac"
	"errors"
	"hash"
	"slices"

	"github.com/nats-io/nkeys"
	"github.com/wardrt/ward/internal/errs"
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
	_      struct{} `cbor:",toarray"`
	V      uint8
	Kind   kind
	Node   uint16
	Dst    uint16
	Epoch  uint64
	Gen    uint32
	Seq    uint64
	From   uint64
	To     uint64
	Ref    uint64
	Tag    int64
	Body   []byte
	Reason uint32
	Text   string
	Op     string
	Env    []uint64
	ErrIs  uint8
}

// On the wire a frame is one byte giving the length of its
// authenticator, the authenticator, and the frame's CBOR encoding (an
// array: cheaper to code than a map, and the version is its first
// element). The authenticator is the sender's MAC (frames to one node,
// see keys.go) or nkey signature (heartbeats) of exactly the encoded
// bytes, so a receiver verifies what it decodes.

// envelope is a frame on the wire, split.
type envelope struct {
	Body []byte
	Sig  []byte
}

var errMalformed = errors.New("ward: malformed frame")

// sealMAC encodes f and authenticates it with m (see keys.go).
func sealMAC(m hash.Hash, f *frame) ([]byte, error) {
	return sealAppend(nil, m, f), nil
}

// sealAppend appends f sealed with m to dst.
func sealAppend(dst []byte, m hash.Hash, f *frame) []byte {
	f.V = frameVersion
	size := m.Size()
	dst = slices.Grow(dst, 1+size+frameSize(f))
	start := len(dst)
	dst = append(dst, byte(size))
	dst = dst[:len(dst)+size]
	dst = appendFrame(dst, f)
	m.Reset()
	m.Write(dst[start+1+size:])
	m.Sum(dst[start+1 : start+1])
	return dst
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
	body := appendFrame(nil, f)
	sig, err := kp.Sign(body)
	if err != nil {
		return nil, errs.Wrap(err, "signing a frame")
	}
	out := append([]byte{byte(len(sig))}, sig...)
	return append(out, body...), nil
}

// open decodes a frame without checking it: who must have signed it is
// known only once the frame names its node. check and checkMAC do the
// rest.
func open(data []byte) (*frame, *envelope, error) {
	if len(data) < 2 || len(data) < 2+int(data[0]) {
		return nil, nil, errMalformed
	}
	env := &envelope{Sig: data[1 : 1+int(data[0])], Body: data[1+int(data[0]):]}
	f, ok := decodeFrame(env.Body)
	if !ok {
		return nil, nil, errMalformed
	}
	return f, env, nil
}

// check reports whether env was signed by the holder of pub's key.
func (env *envelope) check(pub nkeys.KeyPair) bool {
	return pub != nil && pub.Verify(env.Body, env.Sig) == nil
}
