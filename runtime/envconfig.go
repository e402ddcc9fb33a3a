package runtime

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// errBadEnvConfig is wrapped by decodeEnvConfig's errors.
var errBadEnvConfig = errors.New("ward: malformed environment config")

// guestEnvConfig is the configuration a guest passes to
// ward_environment.create, as a CBOR map keyed by these field names.
// Absent keys inherit from the creator's environment; every value may
// only narrow it. The WASI setup and directories are always inherited.
// The guest SDK's guest.EnvironmentConfig encodes the same map.
type guestEnvConfig struct {
	MaxMemory      uint64 `cbor:"MaxMemory,omitempty"`
	MaxTotalMemory uint64 `cbor:"MaxTotalMemory,omitempty"`
	MaxFuel        uint64 `cbor:"MaxFuel,omitempty"`
	// MaxWallTimeMs is MaxWallTime in milliseconds.
	MaxWallTimeMs       uint64   `cbor:"MaxWallTimeMs,omitempty"`
	MaxProcesses        int      `cbor:"MaxProcesses,omitempty"`
	MaxMailboxMessages  int      `cbor:"MaxMailboxMessages,omitempty"`
	MaxMailboxBytes     int      `cbor:"MaxMailboxBytes,omitempty"`
	MaxTimers           int      `cbor:"MaxTimers,omitempty"`
	MaxTimerBytes       int      `cbor:"MaxTimerBytes,omitempty"`
	MaxLinks            int      `cbor:"MaxLinks,omitempty"`
	MaxMonitors         int      `cbor:"MaxMonitors,omitempty"`
	MaxNames            int      `cbor:"MaxNames,omitempty"`
	MaxEnvironmentNames int      `cbor:"MaxEnvironmentNames,omitempty"`
	MaxModuleBytes      int      `cbor:"MaxModuleBytes,omitempty"`
	MaxHandles          int      `cbor:"MaxHandles,omitempty"`
	Namespaces          []string `cbor:"Namespaces,omitempty"`
	// Permissions are environment.Permission values: 0 inherit, 1 allow,
	// 2 deny.
	Spawn              uint8 `cbor:"Spawn,omitempty"`
	CreateEnvironments uint8 `cbor:"CreateEnvironments,omitempty"`
	CompileModules     uint8 `cbor:"CompileModules,omitempty"`
}

// envConfigDecoder refuses what a hostile guest could use to make the
// decode costly or ambiguous: unknown or repeated keys, deep nesting,
// long arrays, tags.
var envConfigDecoder = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4,
		MaxArrayElements:  256,
		MaxMapPairs:       64,
		TagsMd:            cbor.TagsForbidden,
		IndefLength:       cbor.IndefLengthForbidden,
	}.DecMode()
	if err != nil {
		panic(err) // the options are constants
	}
	return dm
}()

// decodeEnvConfig decodes the CBOR config of
// ward_environment.create into a Config to narrow the creator's with. It
// checks the encoding only; Environment.NewChild checks the values.
func decodeEnvConfig(b []byte) (environment.Config, error) {
	if len(b) > abi.MaxEnvironmentConfigSize {
		return environment.Config{}, fmt.Errorf("%w: %d bytes, more than %d", errBadEnvConfig, len(b), abi.MaxEnvironmentConfigSize)
	}
	var g guestEnvConfig
	if err := envConfigDecoder.Unmarshal(b, &g); err != nil {
		return environment.Config{}, fmt.Errorf("%w: %w", errBadEnvConfig, err)
	}
	if g.MaxWallTimeMs > math.MaxInt64/uint64(time.Millisecond) {
		return environment.Config{}, fmt.Errorf("%w: MaxWallTimeMs %d is too large", errBadEnvConfig, g.MaxWallTimeMs)
	}
	c := environment.Config{
		MaxMemory:           g.MaxMemory,
		MaxTotalMemory:      g.MaxTotalMemory,
		MaxFuel:             g.MaxFuel,
		MaxWallTime:         time.Duration(g.MaxWallTimeMs) * time.Millisecond,
		MaxProcesses:        g.MaxProcesses,
		MaxMailboxMessages:  g.MaxMailboxMessages,
		MaxMailboxBytes:     g.MaxMailboxBytes,
		MaxTimers:           g.MaxTimers,
		MaxTimerBytes:       g.MaxTimerBytes,
		MaxLinks:            g.MaxLinks,
		MaxMonitors:         g.MaxMonitors,
		MaxNames:            g.MaxNames,
		MaxEnvironmentNames: g.MaxEnvironmentNames,
		MaxModuleBytes:      g.MaxModuleBytes,
		MaxHandles:          g.MaxHandles,
		Namespaces:          g.Namespaces,
		Permissions: environment.Permissions{
			Spawn:              environment.Permission(g.Spawn),
			CreateEnvironments: environment.Permission(g.CreateEnvironments),
			CompileModules:     environment.Permission(g.CompileModules),
		},
	}
	return c, nil
}
