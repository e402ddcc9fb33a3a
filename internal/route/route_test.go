package route

import "testing"

func TestIDsCarryTheirNode(t *testing.T) {
	const local = 42
	id := Qualify(local, 7)
	if NodeOf(id) != 7 || id&LocalMask != local {
		t.Fatalf("Qualify(42, 7) = %#x: node %d, local %d", id, NodeOf(id), id&LocalMask)
	}
	if Qualify(id, 9) != id {
		t.Fatal("Qualify changed the node of an id that names one")
	}
	if NodeOf(local) != 0 {
		t.Fatal("an unqualified id names a node")
	}
	if NodeOf(^uint64(0)) != 1<<NodeBits-1 {
		t.Fatal("the top bits are not the node")
	}
}

func TestAttachWithoutARuntime(t *testing.T) {
	saved := attach
	defer func() { attach = saved }()
	attach = nil
	if _, err := Attach(nil, 1, nil); err == nil {
		t.Fatal("Attach with no runtime package linked in succeeded")
	}
}
