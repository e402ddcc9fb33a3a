package environment

// bound is one of a Config's per-process (or per-environment) count and
// byte limits: they share one rule (0 inherits, negative is refused, a
// child only lowers), so Root, Narrow and validate walk them as a table
// instead of repeating that rule for each.
type bound struct {
	name string
	def  int
	of   func(*Config) *int
}

var bounds = []bound{
	{"MaxProcesses", DefaultMaxProcesses, func(c *Config) *int { return &c.MaxProcesses }},
	{"MaxMailboxMessages", DefaultMaxMailboxMessages, func(c *Config) *int { return &c.MaxMailboxMessages }},
	{"MaxMailboxBytes", DefaultMaxMailboxBytes, func(c *Config) *int { return &c.MaxMailboxBytes }},
	{"MaxTimers", DefaultMaxTimers, func(c *Config) *int { return &c.MaxTimers }},
	{"MaxTimerBytes", DefaultMaxTimerBytes, func(c *Config) *int { return &c.MaxTimerBytes }},
	{"MaxLinks", DefaultMaxLinks, func(c *Config) *int { return &c.MaxLinks }},
	{"MaxMonitors", DefaultMaxMonitors, func(c *Config) *int { return &c.MaxMonitors }},
	{"MaxNames", DefaultMaxNames, func(c *Config) *int { return &c.MaxNames }},
	{"MaxEnvironmentNames", DefaultMaxEnvironmentNames, func(c *Config) *int { return &c.MaxEnvironmentNames }},
	{"MaxModuleBytes", DefaultMaxModuleBytes, func(c *Config) *int { return &c.MaxModuleBytes }},
	{"MaxHandles", DefaultMaxHandles, func(c *Config) *int { return &c.MaxHandles }},
}
