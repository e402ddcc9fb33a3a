package cluster

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/fxamacker/cbor/v2"
	"github.com/nats-io/nkeys"
	"github.com/wardrt/ward/internal/errs"
)

// Frame authentication. An ed25519 signature per frame costs tens of µs to
// make and more to check, several times NATS's own round trip. So a node
// signs once, at Join: its registration carries an X25519 public key,
// signed with its nkey. Two nodes agree on a secret from each other's
// X25519 keys, and derive one HMAC-SHA256 key per direction, bound to both
// node numbers and epochs; every frame between them carries that MAC. A
// client without a node's private key can neither make the secret nor
// reuse a MAC for another node, direction or Join. Heartbeats, which go to
// every node at once, stay signed with the nkey.

// registration is a node's entry in the nodes bucket, under its number.
type registration struct {
	Pub   string `cbor:"1,keyasint"` // the nkey that signs DH and heartbeats
	Epoch uint64 `cbor:"2,keyasint"` // the Join
	DH    []byte `cbor:"3,keyasint"` // X25519 public key for session keys
	Sig   []byte `cbor:"4,keyasint"` // Pub's signature of the fields above
}

// signedPart is what a registration's signature covers.
func (r registration) signedPart() []byte {
	b, _ := cbor.Marshal(registration{Pub: r.Pub, Epoch: r.Epoch, DH: r.DH})
	return b
}

// newRegistration makes and signs this node's registration.
func newRegistration(kp nkeys.KeyPair, pub string, epoch uint64, dh *ecdh.PrivateKey) (registration, error) {
	r := registration{Pub: pub, Epoch: epoch, DH: dh.PublicKey().Bytes()}
	sig, err := kp.Sign(r.signedPart())
	if err != nil {
		return r, errs.Wrap(err, "cluster: signing the registration")
	}
	r.Sig = sig
	return r, nil
}

// check verifies a registration read from the bucket and returns its keys.
func (r registration) check() (nkeys.KeyPair, *ecdh.PublicKey, error) {
	key, err := nkeys.FromPublicKey(r.Pub)
	if err != nil {
		return nil, nil, err
	}
	if err := key.Verify(r.signedPart(), r.Sig); err != nil {
		return nil, nil, fmt.Errorf("registration not signed by its key: %w", err)
	}
	dh, err := ecdh.X25519().NewPublicKey(r.DH)
	if err != nil {
		return nil, nil, err
	}
	return key, dh, nil
}

// sessionMACs returns the MACs of frames from this node to the peer and
// from the peer to this node.
func (n *Node) sessionMACs(peer uint16, peerEpoch uint64, peerDH *ecdh.PublicKey) (out, in hash.Hash, err error) {
	shared, err := n.dh.ECDH(peerDH)
	if err != nil {
		return nil, nil, err
	}
	return hmac.New(sha256.New, directionKey(shared, n.id, n.epoch, peer, peerEpoch)),
		hmac.New(sha256.New, directionKey(shared, peer, peerEpoch, n.id, n.epoch)), nil
}

func directionKey(shared []byte, from uint16, fromEpoch uint64, to uint16, toEpoch uint64) []byte {
	m := hmac.New(sha256.New, shared)
	b := append([]byte("ward frame key v1"), 0)
	b = binary.BigEndian.AppendUint16(b, from)
	b = binary.BigEndian.AppendUint64(b, fromEpoch)
	b = binary.BigEndian.AppendUint16(b, to)
	b = binary.BigEndian.AppendUint64(b, toEpoch)
	m.Write(b)
	return m.Sum(nil)
}

// mac returns the MAC of body under m (whose user holds its lock).
func mac(m hash.Hash, body []byte) []byte {
	m.Reset()
	m.Write(body)
	return m.Sum(nil)
}
