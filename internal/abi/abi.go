// Package abi is the single definition of every host function ward offers
// guests: namespace, name, signature, how it is implemented, the permission
// it needs and its documentation. The runtime's linker, the reference page,
// the C header and the guest SDK are all derived from or checked against
// Funcs, so they cannot drift apart (lunatic's all_imports.wat did).
package abi

// ValType is a Wasm value type in a host function signature.
type ValType uint8

// The value types host functions use. Their numbers are wasmtime's
// wasm_valkind_t values, so the C shim can use them as they are.
const (
	I32 ValType = 0
	I64 ValType = 1
)

func (t ValType) String() string {
	if t == I32 {
		return "i32"
	}
	return "i64"
}

// Impl says where a host function runs.
type Impl uint8

const (
	// C functions run on the guest's fiber without leaving C: the hot paths
	// (ids, message bytes), about 11 ns a call.
	C Impl = iota
	// Go functions suspend the guest; the process goroutine serves the call
	// on its own stack between polls, so it may block without pinning an OS
	// thread. About 250 ns a call.
	Go
	// Hosted functions are Go functions served by one of ward's host
	// modules (hostapi/net, hostapi/sqlite, ...) through hostapi, like a
	// third party's: the runtime links them only when the embedder
	// registers that module (runtime.WithHostModule), and the module's
	// functions must be exactly the table's (hostapi.Builtin makes them
	// from it). Declared here so that the C header, the Go guest SDK and
	// the reference page come from the one table.
	Hosted
	// Builtin functions are Go functions served like Hosted ones, by
	// handlers written on hostapi and dispatched on the same path as a
	// third party's, but by modules the runtime itself defines and links
	// in every runtime (no WithHostModule): ward_registry, ward_module and
	// ward_environment. The namespace is ward's; no embedder's module may
	// take it.
	Builtin
)

// Param is one named parameter or result.
type Param struct {
	Name string
	Type ValType
}

// Func describes one host function.
type Func struct {
	Namespace string
	Name      string
	Params    []Param
	Results   []Param
	Impl      Impl
	// Permission is checked by the runtime before the function runs: a
	// caller whose environment lacks it gets ErrPermission.
	Permission Permission
	Doc        string
}

// Permission names an environment permission a host function needs beyond
// its namespace being allowed.
type Permission string

// Permissions host functions can require.
const (
	PermNone  Permission = ""
	PermSpawn Permission = "spawn"
	// PermCompileModules: compiling modules from bytes (ward_module.load).
	PermCompileModules Permission = "compile_modules"
	// PermCreateEnvironments: making narrower environments
	// (ward_environment.create).
	PermCreateEnvironments Permission = "create_environments"
)

// Host function namespaces (Wasm import module names).
const (
	NamespaceProcess  = "ward_process"
	NamespaceMessage  = "ward_message"
	NamespaceRegistry = "ward_registry"
	NamespaceWASI     = "wasi_snapshot_preview1"
	// NamespaceModule: modules compiled by guests, and their handles.
	NamespaceModule = "ward_module"
	// NamespaceEnvironment: narrower environments made by guests.
	NamespaceEnvironment = "ward_environment"
)

// Status codes host functions return to guests (i32). They are part of the
// ABI: guests compare against these numbers.
const (
	OK            = 0 // success
	ErrLimit      = 1 // an environment limit was reached (processes, mailbox size)
	ErrPermission = 2 // the environment does not permit this
	ErrNotFound   = 3 // no such export, process or name
	ErrInvalid    = 4 // malformed arguments (bad pointer ranges trap instead)
	ErrClosed     = 5 // the runtime is shutting down
	ErrTimeout    = 6 // a receive's timeout passed with no matching message
	ErrTaken      = 7 // the name and version are registered to another process
	ErrAgain      = 8 // a try_ call cannot complete without the host: make the full call (send, receive) instead
)

// Tags of the messages the runtime itself sends. Guests and Go code must
// not send negative tags; the runtime refuses them.
const (
	// TagExit: a linked process ended and the receiver traps exits. Data:
	// the peer's id (u64 LE), its reason kind (u32 LE), the reason's text
	// (at most MaxReasonText bytes of it).
	TagExit = -1
	// TagDown: a monitored process ended. Data: the monitor reference (u64
	// LE), the process's id (u64 LE), its reason kind (u32 LE), the text
	// (at most MaxReasonText bytes).
	TagDown = -2
	// TagNodeDown: a node the receiver monitors left the cluster or was
	// lost. Data: the node's number (u16 LE).
	TagNodeDown = -3
	// TagUpgrade: the current message when an entry starts after an
	// upgrade (ward_process.upgrade). Data: the state the old version
	// handed over; the sender is the process itself.
	TagUpgrade = -4
)

// Reason kinds, as carried by exit and down messages.
const (
	ReasonNormal      = 0
	ReasonKilled      = 1
	ReasonTrap        = 2
	ReasonOutOfFuel   = 3
	ReasonMemoryLimit = 4
	ReasonExitCode    = 5
	ReasonInstantiate = 6
	ReasonNoProc      = 7
	ReasonGoError     = 8
	// ReasonNoConnection: the process's node left the cluster or was
	// lost; nothing more is known of it.
	ReasonNoConnection = 9
	// ReasonPurged: the process ran the old version of an installed
	// module, and a newer version's installation purged it.
	ReasonPurged = 10
)

// MaxMessageSize bounds one message's data. A write_data past it returns
// ErrLimit.
const MaxMessageSize = 16 << 20

// MaxReasonText bounds the reason's text a TagExit or TagDown message
// carries; a longer one is cut short. Signals may take a mailbox past its
// limits, one per link and monitor held, and this keeps each one small
// whatever its reason says.
const MaxReasonText = 1024

// MaxReceiveTags bounds the tags one receive may filter on.
const MaxReceiveTags = 64

// SpawnParamSize is the size of one spawn parameter record in guest memory:
// an i32 value type (0 = i32, 1 = i64) at offset 0, four bytes of padding,
// and the value as a little-endian i64 at offset 8.
const SpawnParamSize = 16

// MaxSpawnParams bounds the parameters of a spawned entry function.
const MaxSpawnParams = 16

// MaxNameLen bounds export names and other strings passed by guests.
// Registry names are further limited to 255 bytes.
const MaxNameLen = 1024

// MaxEnvironmentConfigSize bounds the encoded configuration
// ward_environment.create reads.
const MaxEnvironmentConfigSize = 64 << 10

func p(name string, t ValType) Param { return Param{name, t} }

// Funcs is the table. Order matters: a function's index is its id in the
// linker, so append; never reorder.
var Funcs = []Func{
	{
		Namespace: NamespaceProcess, Name: "self",
		Results: []Param{p("id", I64)},
		Impl:    C,
		Doc:     "Returns the calling process's id.",
	},
	{
		Namespace: NamespaceProcess, Name: "exit",
		Params: []Param{p("code", I32)},
		Impl:   C,
		Doc:    "Ends the calling process. Code 0 is a normal exit; any other code is an abnormal exit with that status. Does not return.",
	},
	{
		Namespace: NamespaceProcess, Name: "spawn",
		Params: []Param{
			p("entry_ptr", I32), p("entry_len", I32),
			p("params_ptr", I32), p("params_count", I32),
			p("id_ptr", I32),
		},
		Results:    []Param{p("status", I32)},
		Impl:       Go,
		Permission: PermSpawn,
		Doc: "Spawns a new process running the export entry of the caller's module, in the caller's environment. " +
			"params_ptr points to params_count 16-byte records (i32 type: 0 i32, 1 i64; 4 bytes padding; i64 value). " +
			"On OK the new id is written as an i64 at id_ptr. Returns ErrLimit when the environment's process limit is reached, " +
			"ErrPermission when spawning is not permitted, ErrNotFound when entry does not exist, ErrInvalid when it does not take those params, " +
			"the name is longer than MaxNameLen, there are more than MaxSpawnParams params or a type code is unknown. " +
			"Pointers outside the caller's memory trap the caller.",
	},
	{
		Namespace: NamespaceProcess, Name: "sleep_ms",
		Params: []Param{p("ms", I64)},
		Impl:   Go,
		Doc:    "Suspends the calling process for ms milliseconds without holding an OS thread.",
	},
	{
		Namespace: NamespaceProcess, Name: "spawn_link",
		Params: []Param{
			p("entry_ptr", I32), p("entry_len", I32),
			p("params_ptr", I32), p("params_count", I32),
			p("id_ptr", I32),
		},
		Results:    []Param{p("status", I32)},
		Impl:       Go,
		Permission: PermSpawn,
		Doc: "Like spawn, and links the new process to the caller before it runs, so neither can miss the other's end. " +
			"Also returns ErrLimit when the caller cannot take another link (see link).",
	},
	{
		Namespace: NamespaceProcess, Name: "link",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Links the caller and pid, both ways; a second link to the same process does nothing. When either ends abnormally, " +
			"the other ends with the same reason, unless it traps exits, in which case it receives a TagExit message. " +
			"A link is a way to kill, so it follows kill's rule: ErrPermission when pid runs outside the caller's environment and the environments below it. " +
			"Returns ErrNotFound when pid is not alive, ErrLimit when either process already has as many links as its environment allows " +
			"or either mailbox is full (no link is made while it is, which bounds the TagExit messages a mailbox can hold past its limits).",
	},
	{
		Namespace: NamespaceProcess, Name: "unlink",
		Params: []Param{p("pid", I64)},
		Impl:   Go,
		Doc:    "Removes the link between the caller and pid, if any.",
	},
	{
		Namespace: NamespaceProcess, Name: "trap_exit",
		Params: []Param{p("on", I32)},
		Impl:   Go,
		Doc:    "With on != 0, exits of linked processes arrive as TagExit messages instead of ending the caller. A kill is never trapped.",
	},
	{
		Namespace: NamespaceProcess, Name: "monitor",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("ref", I64)},
		Impl:    Go,
		Doc: "Starts watching pid and returns a reference (> 0). When pid ends, the caller receives one TagDown message carrying the reference; " +
			"if pid is not alive, that message arrives at once with reason kind ReasonNoProc, counted against the caller's mailbox limits like any message. " +
			"Monitors stack: two calls give two messages. Returns a negated status instead, and watches nothing, when refused: -ErrLimit when the caller " +
			"already holds as many monitors as its environment allows or its mailbox is full (no monitor is made while it is).",
	},
	{
		Namespace: NamespaceProcess, Name: "demonitor",
		Params: []Param{p("ref", I64)},
		Impl:   Go,
		Doc:    "Stops the monitor ref; its TagDown message will not arrive if it has not already.",
	},
	{
		Namespace: NamespaceProcess, Name: "kill",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Ends pid with reason killed, which it cannot trap. Returns ErrNotFound when pid is not alive, ErrPermission when pid runs " +
			"outside the caller's environment and the environments below it.",
	},
	{
		Namespace: NamespaceProcess, Name: "exists",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("alive", I32)},
		Impl:    Go,
		Doc:     "Returns 1 if pid is alive, 0 otherwise.",
	},
	{
		Namespace: NamespaceMessage, Name: "create_data",
		Params: []Param{p("tag", I64)},
		Impl:   C,
		Doc:    "Starts a new outgoing message with tag (>= 0), discarding any unsent one.",
	},
	{
		Namespace: NamespaceMessage, Name: "write_data",
		Params:  []Param{p("ptr", I32), p("len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    C,
		Doc:     "Appends len bytes at ptr to the outgoing message. Returns ErrLimit past MaxMessageSize. A range outside memory traps.",
	},
	{
		Namespace: NamespaceMessage, Name: "read_data",
		Params:  []Param{p("ptr", I32), p("len", I32)},
		Results: []Param{p("n", I32)},
		Impl:    C,
		Doc:     "Copies up to len bytes of the current message, from where the last read stopped, to ptr; returns how many. A range outside memory traps.",
	},
	{
		Namespace: NamespaceMessage, Name: "data_size",
		Results: []Param{p("size", I64)},
		Impl:    C,
		Doc:     "Returns the size of the current message's data.",
	},
	{
		Namespace: NamespaceMessage, Name: "get_tag",
		Results: []Param{p("tag", I64)},
		Impl:    C,
		Doc:     "Returns the current message's tag.",
	},
	{
		Namespace: NamespaceMessage, Name: "sender",
		Results: []Param{p("pid", I64)},
		Impl:    C,
		Doc:     "Returns the id of the current message's sender, 0 when it came from outside any process.",
	},
	{
		Namespace: NamespaceMessage, Name: "unique_tag",
		Results: []Param{p("tag", I64)},
		Impl:    C,
		Doc:     "Returns a tag no other call in this program returns, for matching a reply to its request.",
	},
	{
		Namespace: NamespaceMessage, Name: "send",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Sends the outgoing message to pid; the message is consumed. Returns ErrNotFound when pid is not alive (the message is dropped, " +
			"as Erlang drops it), ErrLimit when pid's mailbox is full.",
	},
	{
		Namespace: NamespaceMessage, Name: "receive",
		Params:  []Param{p("tags_ptr", I32), p("tags_count", I32), p("timeout_ms", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Waits for the oldest message whose tag is one of tags_count i64s at tags_ptr (any message when tags_count is 0) and makes it the current message. " +
			"timeout_ms < 0 waits forever; 0 only checks. Returns OK, ErrTimeout, or ErrInvalid when tags_count exceeds MaxReceiveTags.",
	},
	{
		Namespace: NamespaceMessage, Name: "send_receive",
		Params:  []Param{p("pid", I64), p("tags_ptr", I32), p("tags_count", I32), p("timeout_ms", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "send then receive in one call: the request half of request/reply. While it waits it watches pid, as a monitor would: " +
			"if pid ends before a matching message arrives, it returns ErrNotFound at once instead of waiting out timeout_ms. " +
			"Otherwise it returns send's error status, or receive's. A server that answers and then waits for its next request wants send and receive instead: " +
			"its client may end first.",
	},
	{
		Namespace: NamespaceMessage, Name: "send_after",
		Params:  []Param{p("pid", I64), p("delay_ms", I64)},
		Results: []Param{p("timer", I64)},
		Impl:    Go,
		Doc: "Sends the outgoing message to pid after delay_ms and returns a timer id (> 0), or a negated status: -ErrLimit when the caller " +
			"would pass the pending timers, or bytes of their messages, its environment allows a process, or its environment its share of either " +
			"(timers outlive the process that set them, and stay charged to its environment until they fire or are cancelled), " +
			"-ErrInvalid for a negative tag, -ErrClosed when the runtime is closing. As in Erlang, a timer is cancelled when pid ends, " +
			"and one to a process that is not alive is never set (its id is valid, and cancel_timer finds it gone).",
	},
	{
		Namespace: NamespaceMessage, Name: "cancel_timer",
		Params:  []Param{p("timer", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Cancels a timer of send_after set by a process of the caller's environment or of one below it, as kill is limited. " +
			"Returns ErrNotFound when it has already fired, does not exist, or was set elsewhere.",
	},
	{
		Namespace: NamespaceRegistry, Name: "register",
		Params:  []Param{p("name_ptr", I32), p("name_len", I32), p("version_ptr", I32), p("version_len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc: "Registers the caller in its environment under name at an exact semver version; the name goes when the caller exits. " +
			"Returns ErrTaken if another process holds that name and version, ErrInvalid for a malformed name or version.",
	},
	{
		Namespace: NamespaceRegistry, Name: "unregister",
		Params:  []Param{p("name_ptr", I32), p("name_len", I32), p("version_ptr", I32), p("version_len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc:     "Removes a name and version from the caller's environment. Returns ErrNotFound if it is not registered.",
	},
	{
		Namespace: NamespaceRegistry, Name: "lookup",
		Params: []Param{
			p("name_ptr", I32), p("name_len", I32),
			p("constraint_ptr", I32), p("constraint_len", I32), p("id_ptr", I32),
		},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc: "Finds the process registered in the caller's environment under name with the highest version matching a semver constraint " +
			"(\"^1.2\", \"~1.4.0\", \">=2, <3\", empty for any) and writes its id as an i64 at id_ptr. Returns ErrNotFound or ErrInvalid.",
	},
	{
		Namespace: NamespaceRegistry, Name: "get_or_spawn",
		Params: []Param{
			p("name_ptr", I32), p("name_len", I32), p("version_ptr", I32), p("version_len", I32),
			p("entry_ptr", I32), p("entry_len", I32), p("id_ptr", I32),
		},
		Results:    []Param{p("status", I32)},
		Impl:       Builtin,
		Permission: PermSpawn,
		Doc: "Returns the process registered as name at exactly version in the caller's environment, spawning it (the export entry of the " +
			"caller's module, no params) and registering it if there is none; atomic, so concurrent callers get one process. Writes the id at id_ptr.",
	},
	{
		Namespace: NamespaceProcess, Name: "upgrade",
		Params:  []Param{p("entry_ptr", I32), p("entry_len", I32), p("state_ptr", I32), p("state_len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Go,
		Doc: "Moves the caller to the current version of the name its module is installed under (Runtime.Install), Erlang's hot code upgrade: " +
			"the caller's instance is dropped and one of the current version made in its place, with the same process id, environment, mailbox " +
			"(messages already received ahead included), registered names, links and monitors. Its export entry, which takes no params, starts " +
			"with the state_len bytes at state_ptr as its current message under tag TagUpgrade, sent by the process itself (read them with read_data). " +
			"On success it does not return: the old code is gone. Nothing else crosses over: memory, globals, the unsent outgoing message. " +
			"The new instance gets the environment's whole fuel limit; the process's wall-time limit runs on. Returns, and the caller runs on, " +
			"ErrNotFound when its module is not installed, is the current version already, or the current version has no export entry taking no params; " +
			"ErrInvalid when entry_len exceeds MaxNameLen or state_len MaxMessageSize; ErrPermission when the environment does not allow the new version's imports; " +
			"ErrLimit when the new instance does not fit the environment's memory (both instances exist for a moment). Ranges outside the caller's memory trap.",
	},
	// ward_module and ward_environment: modules and environments made by
	// guests. Kept together at the end of the table.
	{
		Namespace: NamespaceModule, Name: "load",
		Params:     []Param{p("ptr", I32), p("len", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Builtin,
		Permission: PermCompileModules,
		Doc: "Compiles the len bytes of a Wasm binary at ptr (WAT text is refused) into a module and writes its handle, an i64, at handle_ptr. " +
			"A handle is an unguessable capability token (never 0): the caller holds it until it calls drop or ends, and may send it " +
			"in a message to another process, which calls take to hold it too. The module's code is freed when no process holds it " +
			"and no process runs it. While held, the code is charged to the holder's environment's total memory limit. " +
			"Returns ErrLimit when len exceeds the environment's module size limit, the caller already holds as many handles as its " +
			"environment allows, or the environment's total memory limit cannot take the code; ErrInvalid when the bytes are not a valid module; ErrPermission without the " +
			"compile_modules permission; ErrClosed when the runtime is closing. The caller waits for the compile without holding a run slot. " +
			"Pointers outside the caller's memory trap the caller.",
	},
	{
		Namespace: NamespaceModule, Name: "spawn",
		Params: []Param{
			p("handle", I64), p("entry_ptr", I32), p("entry_len", I32),
			p("params_ptr", I32), p("params_count", I32), p("env", I64), p("id_ptr", I32),
		},
		Results:    []Param{p("status", I32)},
		Impl:       Builtin,
		Permission: PermSpawn,
		Doc: "Spawns a process running the export entry of the module the caller holds as handle, with params encoded as for " +
			"ward_process.spawn, in the environment the caller holds as env (from ward_environment.create), or in the caller's own " +
			"when env is 0. On OK the new id is written as an i64 at id_ptr. Returns ErrNotFound when the caller holds no such " +
			"handle or environment or entry does not exist, ErrPermission when the module imports a namespace the environment does not " +
			"allow, and otherwise the statuses of ward_process.spawn.",
	},
	{
		Namespace: NamespaceModule, Name: "drop",
		Params:  []Param{p("handle", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc: "Stops holding a module handle; its charge goes back to the caller's environment. Processes already spawned from it " +
			"run on. Returns ErrNotFound when the caller does not hold it.",
	},
	{
		Namespace: NamespaceModule, Name: "take",
		Params:  []Param{p("handle", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc: "Holds the module handle another process passed (its token, received in a message), as if the caller had loaded it; " +
			"holding one already does nothing. Returns ErrNotFound when no process holds that handle any more or it is not a module's, " +
			"ErrLimit as load does for the handle and total memory limits.",
	},
	{
		Namespace: NamespaceEnvironment, Name: "create",
		Params:     []Param{p("config_ptr", I32), p("config_len", I32), p("env_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Builtin,
		Permission: PermCreateEnvironments,
		Doc: "Creates a child of the caller's environment, narrowed by the CBOR map of config_len bytes at config_ptr " +
			"(docs/limits.md lists its keys; absent keys inherit, and config_len 0 inherits everything), and writes its handle, an i64, at env_ptr, for ward_module.spawn. " +
			"The handle is the caller's alone: it cannot be taken by another process. The environment lives while the caller holds " +
			"the handle or a process runs in it, and closing the caller's environment closes it. " +
			"Returns ErrPermission when the config asks for more than the caller's environment has or without the " +
			"create_environments permission, ErrInvalid for a malformed config or one longer than MaxEnvironmentConfigSize, " +
			"ErrLimit when the caller already holds as many handles as its environment allows or the total memory limit cannot take it.",
	},
	{
		Namespace: NamespaceEnvironment, Name: "drop",
		Params:  []Param{p("env", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Builtin,
		Doc: "Stops holding an environment handle. Processes running in the environment run on. Returns ErrNotFound when the caller " +
			"does not hold it.",
	},
	// ward_metrics: guest metrics, exported through OpenTelemetry by
	// hostapi/metrics. Kept together at the end of the table.
	{
		Namespace: NamespaceMetrics, Name: "create",
		Params:     []Param{p("kind", I32), p("name_ptr", I32), p("name_len", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermMetrics,
		Doc: "Creates (or finds) the metric instrument named by the name_len bytes at name_ptr and writes its handle, an i32, at handle_ptr. " +
			"kind is 0 for a counter (adds only non-negative values), 1 for an up-down counter, 2 for a gauge (the last value recorded), " +
			"3 for a histogram; values are i64s. The name is 1 to MaxMetricNameLen bytes of lowercase letters, digits, '_' and '.', " +
			"starting with a letter, and must start with the prefix the environment's ward_metrics configuration allows; it is exported " +
			"as guest.<name>, apart from ward's own metrics. Processes creating the same name share the instrument. Handles are the " +
			"caller's own and go when it ends. Returns ErrInvalid for an unknown kind, a malformed name or a name already created with " +
			"another kind; ErrPermission without the metrics permission or for a name outside the allowed prefix; ErrLimit when the " +
			"caller holds as many instrument handles as its environment allows or the runtime has as many instrument names as its " +
			"embedder allows. Pointers outside the caller's memory trap.",
	},
	{
		Namespace: NamespaceMetrics, Name: "labels",
		Params:     []Param{p("ptr", I32), p("len", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermMetrics,
		Doc: "Makes a label set from the len bytes at ptr and writes its handle, an i32, at handle_ptr, for record. The encoding is " +
			"key=value pairs, each ended by a newline (the last newline may be left out): keys are 1 to 64 bytes of letters, digits " +
			"and '_', not starting with a digit, each at most once; values are UTF-8 without newlines, possibly empty. At most " +
			"MaxMetricLabels pairs and MaxMetricLabelsSize bytes. Returns ErrInvalid for a malformed or oversized encoding (checked " +
			"before reading), ErrPermission without the metrics permission, ErrLimit when the caller holds as many label sets as " +
			"its environment allows.",
	},
	{
		Namespace: NamespaceMetrics, Name: "record",
		Params:  []Param{p("instrument", I32), p("labels", I32), p("value", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Records value on the instrument handle with the label set handle labels (0 for none): adds it to a counter or " +
			"up-down counter, sets a gauge, observes it in a histogram. Returns ErrNotFound when the caller holds no such " +
			"instrument or label set, ErrInvalid for a negative value on a counter, ErrLimit when the instrument already has as " +
			"many distinct label sets as the embedder allows and this one is new (what was recorded stays).",
	},
	// ward_net (hostapi/net): TCP, UDP, TLS and DNS, checked against the allow-lists
	// of the caller's environment. Handles are the calling process's own.
	{
		Namespace: NamespaceNet, Name: "resolve",
		Params:     []Param{p("name_ptr", I32), p("name_len", I32), p("buf_ptr", I32), p("buf_cap", I32), p("count_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetResolve,
		Doc: "Looks up the addresses of a host name the environment allows resolving. Writes at most buf_cap records of NetAddrSize " +
			"bytes at buf_ptr (an IPv6 address in network order; IPv4 as ::ffff:a.b.c.d) and the number written (u32 LE) at count_ptr. " +
			"Returns ErrPermission when the name is not allowed, ErrNotFound when it has no address, ErrInvalid for a malformed name.",
	},
	{
		Namespace: NamespaceNet, Name: "tcp_connect",
		Params:     []Param{p("host_ptr", I32), p("host_len", I32), p("port", I32), p("timeout_ms", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetConnect,
		Doc: "Opens a TCP connection to host (a name or an IP literal) and port, and writes its handle (i32 LE) at handle_ptr. A name " +
			"must match the environment's host patterns, and the address actually dialled (after resolution) must be in its networks, " +
			"on one of its ports. timeout_ms 0 waits as long as the process lives. Returns ErrPermission when refused, ErrTimeout, " +
			"ErrNotFound when no address answers, ErrLimit when the process holds as many handles as allowed, ErrInvalid for a malformed host or port.",
	},
	{
		Namespace: NamespaceNet, Name: "tcp_listen",
		Params:     []Param{p("addr_ptr", I32), p("addr_len", I32), p("port", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetListen,
		Doc: "Listens for TCP connections on a local IP address (a literal) and port (0 picks one, if the environment allows port 0), " +
			"and writes the listener's handle (i32 LE) at handle_ptr. Returns ErrPermission when the address or port is not allowed, " +
			"ErrTaken when the address is in use, ErrLimit, ErrInvalid.",
	},
	{
		Namespace: NamespaceNet, Name: "tcp_accept",
		Params:  []Param{p("listener", I32), p("timeout_ms", I32), p("handle_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Waits for a connection on a listener and writes its handle (i32 LE) at handle_ptr. timeout_ms 0 waits as long as the process lives. " +
			"Returns ErrNotFound when listener is not the caller's listener, ErrTimeout, ErrLimit, ErrClosed.",
	},
	{
		Namespace: NamespaceNet, Name: "local_port",
		Params:  []Param{p("handle", I32), p("port_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Writes the local port (u32 LE) of a listener or connection at port_ptr. Returns ErrNotFound when handle is not the caller's.",
	},
	{
		Namespace: NamespaceNet, Name: "read",
		Params:  []Param{p("handle", I32), p("buf_ptr", I32), p("buf_len", I32), p("timeout_ms", I32), p("n_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Reads at most min(buf_len, MaxNetIOSize) bytes from a connection into buf_ptr and writes how many (u32 LE) at n_ptr: " +
			"0 at the end of the stream. Returns ErrNotFound when handle is not the caller's connection, ErrTimeout, ErrClosed when the connection failed.",
	},
	{
		Namespace: NamespaceNet, Name: "write",
		Params:  []Param{p("handle", I32), p("buf_ptr", I32), p("buf_len", I32), p("timeout_ms", I32), p("n_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Writes min(buf_len, MaxNetIOSize) bytes from buf_ptr to a connection and the number written (u32 LE) at n_ptr, fewer only " +
			"with ErrTimeout or ErrClosed. Returns ErrNotFound when handle is not the caller's connection.",
	},
	{
		Namespace: NamespaceNet, Name: "close",
		Params:  []Param{p("handle", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Closes a connection or listener. Returns ErrNotFound when handle is not the caller's. Everything still open is closed when the process ends.",
	},
	{
		Namespace: NamespaceNet, Name: "udp_bind",
		Params:     []Param{p("addr_ptr", I32), p("addr_len", I32), p("port", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetListen,
		Doc: "Opens a UDP socket bound to a local IP address (a literal) and port, both under the environment's listen lists (0 picks a port " +
			"where they allow 0), and writes its handle (i32 LE) at handle_ptr. Returns ErrPermission, ErrTaken, ErrLimit, ErrInvalid as tcp_listen.",
	},
	{
		Namespace: NamespaceNet, Name: "udp_send_to",
		Params:     []Param{p("handle", I32), p("host_ptr", I32), p("host_len", I32), p("port", I32), p("buf_ptr", I32), p("buf_len", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetConnect,
		Doc: "Sends one datagram of buf_len bytes (at most MaxNetIOSize) from a UDP socket to host and port, checked as tcp_connect checks " +
			"its destination. Returns ErrPermission when refused, ErrNotFound when handle is not the caller's UDP socket or the name has no address, " +
			"ErrInvalid, ErrClosed when the send failed.",
	},
	{
		Namespace: NamespaceNet, Name: "udp_recv_from",
		Params:  []Param{p("handle", I32), p("buf_ptr", I32), p("buf_len", I32), p("timeout_ms", I32), p("from_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Waits for one datagram on a UDP socket, writes at most buf_len bytes of it at buf_ptr (the rest is dropped) and a record of " +
			"NetFromSize bytes at from_ptr: the sender's address as resolve writes it, its port (u32 LE) and the bytes written (u32 LE). " +
			"timeout_ms 0 waits as long as the process lives. Returns ErrNotFound when handle is not the caller's UDP socket, ErrTimeout, ErrClosed.",
	},
	{
		Namespace: NamespaceNet, Name: "tls_client",
		Params:  []Param{p("handle", I32), p("name_ptr", I32), p("name_len", I32), p("timeout_ms", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Turns a TCP connection into the client side of TLS: handshakes, verifying the server's certificate for name (empty: the host " +
			"the connection was dialled with) against the roots the embedder gave the module, and from then on read and write go through TLS. " +
			"Returns ErrNotFound when handle is not the caller's TCP connection, ErrTimeout, ErrClosed when the handshake fails " +
			"(a certificate that does not verify included; the connection is then unusable, close it), ErrInvalid.",
	},
	{
		Namespace: NamespaceNet, Name: "tls_server",
		Params:     []Param{p("handle", I32), p("timeout_ms", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermNetTLSServer,
		Doc: "Turns an accepted TCP connection into the server side of TLS with the certificates the embedder gave the module, and handshakes. " +
			"Returns ErrPermission when the environment does not let its processes serve with those certificates, ErrNotFound, ErrTimeout, " +
			"ErrClosed as tls_client, ErrInvalid when the embedder gave none.",
	},
	// ward_sqlite: SQLite databases under the directories the caller's
	// environment preopens (hostapi/sqlite).
	{
		Namespace: NamespaceSQLite, Name: "open",
		Params:     []Param{p("path_ptr", I32), p("path_len", I32), p("db_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermSQLiteOpen,
		Doc: "Opens (creating it if missing) the SQLite database at the guest path of path_len bytes at path_ptr, and writes its handle, an i32, at db_ptr. " +
			"The path is a preopened directory's name, a slash, and a path relative to that directory (letters, digits, '.', '_', '-' and '/' only; no '..', no empty or '.' element); " +
			"no URI, no ':memory:'. Returns ErrPermission when the environment preopens no such directory or an element of the path is a symbolic link, " +
			"ErrNotFound when a directory on the path does not exist, ErrInvalid for a malformed path or a file that is not a database, ErrLimit when the caller has as many databases open as its environment allows.",
	},
	{
		Namespace: NamespaceSQLite, Name: "close",
		Params:  []Param{p("db", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Closes a database, finalizing its statements and rolling back an open transaction. Returns ErrNotFound when the caller has no such database.",
	},
	{
		Namespace: NamespaceSQLite, Name: "exec",
		Params:  []Param{p("db", I32), p("sql_ptr", I32), p("sql_len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Runs the SQL of sql_len bytes at sql_ptr (one or more statements, no parameters), discarding rows. " +
			"Returns ErrPermission for SQL that could reach another file or change the module's bounds (ATTACH, DETACH, VACUUM INTO, load_extension, most PRAGMAs), " +
			"ErrInvalid when SQLite fails it (errmsg says why), ErrLimit past a size bound, ErrNotFound for no such database.",
	},
	{
		Namespace: NamespaceSQLite, Name: "prepare",
		Params:  []Param{p("db", I32), p("sql_ptr", I32), p("sql_len", I32), p("stmt_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Prepares one SQL statement and writes its handle, an i32, at stmt_ptr. Statuses as exec's, and ErrLimit when the caller holds as many statements as its environment allows.",
	},
	{
		Namespace: NamespaceSQLite, Name: "bind_int",
		Params:  []Param{p("stmt", I32), p("index", I32), p("value", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Binds an integer to parameter index (from 1) of a statement, resetting it. Returns ErrNotFound for no such statement, ErrInvalid for an index out of range.",
	},
	{
		Namespace: NamespaceSQLite, Name: "bind_float",
		Params:  []Param{p("stmt", I32), p("index", I32), p("bits", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Binds the float64 whose IEEE 754 bits are bits to parameter index, as bind_int.",
	},
	{
		Namespace: NamespaceSQLite, Name: "bind_text",
		Params:  []Param{p("stmt", I32), p("index", I32), p("ptr", I32), p("len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Binds the UTF-8 text of len bytes at ptr to parameter index, as bind_int; ErrLimit past the environment's value size bound.",
	},
	{
		Namespace: NamespaceSQLite, Name: "bind_blob",
		Params:  []Param{p("stmt", I32), p("index", I32), p("ptr", I32), p("len", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Binds the len bytes at ptr as a blob to parameter index, as bind_text.",
	},
	{
		Namespace: NamespaceSQLite, Name: "bind_null",
		Params:  []Param{p("stmt", I32), p("index", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Binds NULL to parameter index, as bind_int.",
	},
	{
		Namespace: NamespaceSQLite, Name: "step",
		Params:  []Param{p("stmt", I32), p("row_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Runs a statement to its next row: on OK writes an i32 at row_ptr, 1 when a row is ready for the column functions, 0 when the statement is done. " +
			"Returns ErrLimit, and resets the statement, when the row's text and blobs together exceed the environment's row size bound; " +
			"otherwise the statuses of exec.",
	},
	{
		Namespace: NamespaceSQLite, Name: "column_count",
		Params:  []Param{p("stmt", I32)},
		Results: []Param{p("count", I32)},
		Impl:    Hosted,
		Doc:     "Returns the number of columns a statement's rows have, once it has been stepped; 0 before, and for no such statement.",
	},
	{
		Namespace: NamespaceSQLite, Name: "column_type",
		Params:  []Param{p("stmt", I32), p("col", I32)},
		Results: []Param{p("type", I32)},
		Impl:    Hosted,
		Doc:     "Returns the type of column col (from 0) of the current row: 1 integer, 2 float, 3 text, 4 blob, 5 NULL (SQLite's numbers); 0 when there is no such statement, row or column.",
	},
	{
		Namespace: NamespaceSQLite, Name: "column_int",
		Params:  []Param{p("stmt", I32), p("col", I32)},
		Results: []Param{p("value", I64)},
		Impl:    Hosted,
		Doc:     "Returns column col of the current row as an integer (a float truncated; 0 for text, blobs, NULL and no such column).",
	},
	{
		Namespace: NamespaceSQLite, Name: "column_float",
		Params:  []Param{p("stmt", I32), p("col", I32)},
		Results: []Param{p("bits", I64)},
		Impl:    Hosted,
		Doc:     "Returns the IEEE 754 bits of column col of the current row as a float64 (an integer converted; 0 otherwise).",
	},
	{
		Namespace: NamespaceSQLite, Name: "column_bytes",
		Params:  []Param{p("stmt", I32), p("col", I32), p("buf_ptr", I32), p("buf_cap", I32), p("len_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Writes the length of column col of the current row as text or blob (an i32) at len_ptr and, when it fits in buf_cap bytes, the bytes at buf_ptr. " +
			"Returns ErrLimit, copying nothing, when they do not fit (call again with a larger buffer), ErrNotFound when there is no such statement, row or column.",
	},
	{
		Namespace: NamespaceSQLite, Name: "reset",
		Params:  []Param{p("stmt", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Resets a statement to run again from its start with the same parameters. Returns ErrNotFound for no such statement.",
	},
	{
		Namespace: NamespaceSQLite, Name: "finalize",
		Params:  []Param{p("stmt", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc:     "Frees a statement. Returns ErrNotFound for no such statement.",
	},
	{
		Namespace: NamespaceSQLite, Name: "errmsg",
		Params:  []Param{p("db", I32), p("buf_ptr", I32), p("buf_cap", I32)},
		Results: []Param{p("len", I32)},
		Impl:    Hosted,
		Doc:     "Copies up to buf_cap bytes of the message of the database's last failed call to buf_ptr and returns its full length; 0 when the last call succeeded or there is no such database.",
	},
	// ward_metrics, float64 values and dropping handles: instruments of
	// float64 values beside create's int64 ones, and a way to free a
	// handle before the process ends.
	{
		Namespace: NamespaceMetrics, Name: "create_float",
		Params:     []Param{p("kind", I32), p("name_ptr", I32), p("name_len", I32), p("handle_ptr", I32)},
		Results:    []Param{p("status", I32)},
		Impl:       Hosted,
		Permission: PermMetrics,
		Doc: "Creates (or finds) an instrument of float64 values, as create does for int64 ones (same kinds, names, bounds and " +
			"statuses): record it with record_float. A name belongs to one kind and one value type: creating it with the other " +
			"returns ErrInvalid.",
	},
	{
		Namespace: NamespaceMetrics, Name: "record_float",
		Params:  []Param{p("instrument", I32), p("labels", I32), p("bits", I64)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Records the float64 whose IEEE 754 bits are bits on a create_float instrument, as record does. Returns ErrInvalid, " +
			"recording nothing, for NaN or an infinity (which no exporter can sum), for a negative value on a counter, and for an " +
			"instrument of int64 values; ErrNotFound and ErrLimit as record. record on a create_float instrument records the i64 " +
			"as a float64.",
	},
	{
		Namespace: NamespaceMetrics, Name: "drop",
		Params:  []Param{p("instrument", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Frees the caller's instrument handle, and the room it took under the instrument handles its environment allows. The instrument " +
			"and what was recorded on it stay (other processes may hold it; the exporter keeps its series). Returns ErrNotFound " +
			"when the caller holds no such handle.",
	},
	{
		Namespace: NamespaceMetrics, Name: "drop_labels",
		Params:  []Param{p("labels", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Frees the caller's label set handle, and the room it took under the label sets its environment allows. Returns " +
			"ErrNotFound when the caller holds no such handle.",
	},
	// ward_sqlite, a row in one call: step and every column's value
	// together, for guests that read whole rows.
	{
		Namespace: NamespaceSQLite, Name: "step_row",
		Params:  []Param{p("stmt", I32), p("buf_ptr", I32), p("buf_cap", I32), p("len_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Runs a statement to its next row as step does (same statuses) and on OK writes an i32 at len_ptr: -1 when the statement " +
			"is done, else the length of the row's encoding, which is written at buf_ptr when it fits in buf_cap bytes (when it does " +
			"not, the row stays current: read it with row, or with the column functions). The encoding is, per column in order, a " +
			"type byte (column_type's numbers) and its value: 8 bytes little-endian for an integer or a float's IEEE 754 bits, a u32 " +
			"LE length and the bytes for text or a blob, nothing for NULL.",
	},
	{
		Namespace: NamespaceSQLite, Name: "row",
		Params:  []Param{p("stmt", I32), p("buf_ptr", I32), p("buf_cap", I32), p("len_ptr", I32)},
		Results: []Param{p("status", I32)},
		Impl:    Hosted,
		Doc: "Writes the current row's encoding (as step_row's) length, an i32, at len_ptr and, when it fits in buf_cap bytes, the " +
			"encoding at buf_ptr. Returns ErrLimit, copying nothing, when it does not fit; ErrNotFound when there is no such " +
			"statement or no current row.",
	},
	// ward_message, the synchronous halves of send and receive. A guest's
	// send and receive are asynchronous host calls, because they may have
	// to wait for Go (a full mailbox, a remote or Go receiver, an empty
	// mailbox); a synchronous host call cannot suspend, so it cannot fall
	// back to Go. These complete the common cases in C at the price of a
	// plain call, and say ErrAgain otherwise; the guest then makes the
	// full call, which gives the answer (docs/why.md).
	{
		Namespace: NamespaceMessage, Name: "try_send",
		Params:  []Param{p("pid", I64)},
		Results: []Param{p("status", I32)},
		Impl:    C,
		Doc: "Sends the outgoing message to pid, as send does, when that completes at once without the host: pid is a local Wasm process " +
			"that has received before, its mailbox has room, and the message is small. Returns OK (the message is consumed, exactly as send's OK), " +
			"or ErrAgain, leaving the outgoing message in place: call send next, which sends it or says why not (ErrNotFound, ErrLimit, ...). " +
			"Never waits, never returns another status.",
	},
	{
		Namespace: NamespaceMessage, Name: "try_receive",
		Params:  []Param{p("tags_ptr", I32), p("tags_count", I32)},
		Results: []Param{p("status", I32)},
		Impl:    C,
		Doc: "Makes the oldest message whose tag is one of tags_count i64s at tags_ptr (any message when tags_count is 0) the current message, " +
			"as receive does, when that completes at once without the host. Returns OK (exactly as receive's OK), or ErrAgain, taking nothing: " +
			"call receive next, which finds the message, waits, or reports ErrInvalid for more than MaxReceiveTags tags (try_receive leaves that to it). " +
			"A range outside memory traps, as it does in receive; so does a message that cannot be copied in.",
	},
}

// Lookup returns the function with that namespace and name and its id.
func Lookup(namespace, name string) (Func, int, bool) {
	for i, f := range Funcs {
		if f.Namespace == namespace && f.Name == name {
			return f, i, true
		}
	}
	return Func{}, -1, false
}

// ward_net: networking by hostapi/net, under the allow-lists of the
// caller's environment.
const (
	// NamespaceNet: TCP, UDP, TLS and DNS (hostapi/net).
	NamespaceNet = "ward_net"
	// PermNetConnect: ward_net.tcp_connect and udp_send_to, to the hosts,
	// networks and ports the environment lists.
	PermNetConnect Permission = "net_connect"
	// PermNetListen: ward_net.tcp_listen and udp_bind, on the addresses
	// and ports the environment lists.
	PermNetListen Permission = "net_listen"
	// PermNetResolve: ward_net.resolve, of the names the environment lists.
	PermNetResolve Permission = "net_resolve"
	// PermNetTLSServer: ward_net.tls_server, serving TLS as the embedder's
	// certificates.
	PermNetTLSServer Permission = "net_tls_server"
	// NetAddrSize is the size of one address record ward_net.resolve
	// writes: 16 bytes, an IPv6 address (IPv4 mapped).
	NetAddrSize = 16
	// NetFromSize is the size of the record ward_net.udp_recv_from
	// writes: an address (NetAddrSize bytes), the port and the datagram's
	// length (u32 LE each).
	NetFromSize = 24
	// MaxNetIOSize bounds the bytes one ward_net.read or write moves.
	MaxNetIOSize = 1 << 20
)

// ward_sqlite (hostapi/sqlite).
const (
	// NamespaceSQLite: SQLite databases under preopened directories.
	NamespaceSQLite = "ward_sqlite"
	// PermSQLiteOpen: opening databases (ward_sqlite.open); an environment
	// has it when its ward_sqlite configuration preopens a directory.
	PermSQLiteOpen Permission = "sqlite_open"
)
