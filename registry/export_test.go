package registry

// Waiters reports how many callers have joined the in-flight spawn of name
// at version, so tests can release a spawn only once every caller is parked
// on it instead of hoping a sleep was long enough.
func (r *Registry) Waiters(name, version string) int {
	v, err := parseVersion(version)
	if err != nil {
		return -1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.inflight[spawnKey{name, versionKey(v)}]; ok {
		return c.waiters
	}
	return 0
}
