package guest

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/internal/abi"
)

// Module is a module this process compiled (LoadModule) or took from
// another (TakeModule). The handle is a capability: this process holds it
// until Drop or its end, and while it does the compiled code stays alive
// and is charged to its environment's MaxTotalMemory.
type Module struct{ token uint64 }

// LoadModule compiles the Wasm module b and holds it. The process waits
// for the compile without holding a host thread. Errors: ErrPermission
// when the environment does not permit compiling modules, ErrLimit when b
// is longer than the environment's MaxModuleBytes, the process already
// holds MaxHandles handles or MaxTotalMemory cannot take the code,
// ErrInvalid when b is not a valid module.
func LoadModule(b []byte) (Module, error) {
	var t uint64
	if st := wardModuleLoad(addrBytes(b), uint32(len(b)), addr(unsafe.Pointer(&t))); st != abi.OK {
		return Module{}, fail("load module", st)
	}
	return Module{token: t}, nil
}

// TakeModule holds the module another process passed as its Token, so
// that this process can spawn from it even after the sender has dropped
// it or ended. ErrNotFound when no process holds it any more.
func TakeModule(token uint64) (Module, error) {
	if st := wardModuleTake(token); st != abi.OK {
		return Module{}, fail("take module "+strconv.FormatUint(token, 16), st)
	}
	return Module{token: token}, nil
}

// Token returns the module's handle as a number to send to another
// process, which holds it with TakeModule. Whoever has the number can take
// the module: send it only where the module may go.
func (m Module) Token() uint64 { return m.token }

// Drop stops holding the module. Processes spawned from it run on.
func (m Module) Drop() error {
	if st := wardModuleDrop(m.token); st != abi.OK {
		return fail("drop module", st)
	}
	return nil
}

// Spawn starts a process running the export entry of m with params, in
// this process's environment. Errors are Spawn's, and ErrPermission when
// the module imports a namespace the environment does not allow.
func (m Module) Spawn(entry string, params ...Value) (ProcessID, error) {
	return m.SpawnIn(Environment{}, entry, params...)
}

// SpawnIn is Spawn in env, an environment this process made
// (NewEnvironment); the zero Environment is this process's own.
func (m Module) SpawnIn(env Environment, entry string, params ...Value) (ProcessID, error) {
	if len(params) > MaxSpawnParams {
		return 0, fail("spawn "+quote(entry), abi.ErrInvalid)
	}
	var id uint64
	st := wardModuleSpawn(m.token, addrStr(entry), uint32(len(entry)),
		addr(unsafe.Pointer(unsafe.SliceData(params))), uint32(len(params)), env.token, addr(unsafe.Pointer(&id)))
	if st != abi.OK {
		return 0, fail("spawn "+quote(entry), st)
	}
	return ProcessID(id), nil
}

// Environment is a narrower environment this process made with
// NewEnvironment, for Module.SpawnIn. Only this process can use it.
type Environment struct{ token uint64 }

// EnvironmentConfig narrows this process's environment. Zero fields
// inherit; a field may only lower what this process's environment has.
type EnvironmentConfig struct {
	MaxMemory           uint64        `cbor:"MaxMemory,omitempty"`
	MaxTotalMemory      uint64        `cbor:"MaxTotalMemory,omitempty"`
	MaxFuel             uint64        `cbor:"MaxFuel,omitempty"`
	MaxWallTime         time.Duration `cbor:"-"`
	MaxProcesses        int           `cbor:"MaxProcesses,omitempty"`
	MaxMailboxMessages  int           `cbor:"MaxMailboxMessages,omitempty"`
	MaxMailboxBytes     int           `cbor:"MaxMailboxBytes,omitempty"`
	MaxTimers           int           `cbor:"MaxTimers,omitempty"`
	MaxTimerBytes       int           `cbor:"MaxTimerBytes,omitempty"`
	MaxLinks            int           `cbor:"MaxLinks,omitempty"`
	MaxMonitors         int           `cbor:"MaxMonitors,omitempty"`
	MaxNames            int           `cbor:"MaxNames,omitempty"`
	MaxEnvironmentNames int           `cbor:"MaxEnvironmentNames,omitempty"`
	MaxModuleBytes      int           `cbor:"MaxModuleBytes,omitempty"`
	MaxHandles          int           `cbor:"MaxHandles,omitempty"`
	// Namespaces lists the host namespaces processes there may import;
	// nil or empty inherits.
	Namespaces []string `cbor:"Namespaces,omitempty"`
	// DenySpawn, DenyCreateEnvironments and DenyCompileModules withhold
	// those permissions there.
	DenySpawn              bool `cbor:"-"`
	DenyCreateEnvironments bool `cbor:"-"`
	DenyCompileModules     bool `cbor:"-"`
}

// MarshalCBOR returns c as the CBOR map ward_environment.create reads
// (docs/limits.md lists its keys): only the fields set.
func (c EnvironmentConfig) MarshalCBOR() ([]byte, error) {
	type plain EnvironmentConfig
	deny := func(b bool) uint8 {
		if b {
			return 2 // environment.Deny
		}
		return 0 // inherit
	}
	return cbor.Marshal(struct {
		plain
		MaxWallTimeMs      uint64 `cbor:"MaxWallTimeMs,omitempty"`
		Spawn              uint8  `cbor:"Spawn,omitempty"`
		CreateEnvironments uint8  `cbor:"CreateEnvironments,omitempty"`
		CompileModules     uint8  `cbor:"CompileModules,omitempty"`
	}{
		plain:              plain(c),
		MaxWallTimeMs:      uint64(max(millis(c.MaxWallTime), 0)),
		Spawn:              deny(c.DenySpawn),
		CreateEnvironments: deny(c.DenyCreateEnvironments),
		CompileModules:     deny(c.DenyCompileModules),
	})
}

// NewEnvironment makes an environment narrower than this process's, for
// the processes it spawns there (Module.SpawnIn): it lives while this
// process holds it or a process runs in it. Errors: ErrPermission when
// the environment does not permit creating environments or cfg asks for
// more than it has, ErrInvalid for a value wrong whatever the parent (a
// MaxMemory not a whole number of pages, say), ErrLimit when the process
// already holds MaxHandles handles.
func NewEnvironment(cfg EnvironmentConfig) (Environment, error) {
	b, err := cfg.MarshalCBOR()
	if err != nil {
		return Environment{}, &Error{Op: "new environment: " + err.Error(), Status: abi.ErrInvalid}
	}
	var t uint64
	if st := wardEnvCreate(addrBytes(b), uint32(len(b)), addr(unsafe.Pointer(&t))); st != abi.OK {
		return Environment{}, fail("new environment", st)
	}
	return Environment{token: t}, nil
}

// Drop stops holding the environment. Processes running there run on.
func (e Environment) Drop() error {
	if st := wardEnvDrop(e.token); st != abi.OK {
		return fail("drop environment", st)
	}
	return nil
}
