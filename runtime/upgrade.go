package runtime

// upgradedTo is what an upgraded process runs now: the module of the
// version it moved to, and the entry it started there.
type upgradedTo struct {
	mod   *Module
	entry string
}

// running returns the module and entry p runs now: those it was spawned
// with, unless it upgraded since.
func (p *Process) running() (*Module, string) {
	if v, ok := p.env.rt.upgraded.Load(p); ok {
		u := v.(*upgradedTo)
		return u.mod, u.entry
	}
	return p.mod, p.entry
}

// module returns the module p runs now.
func (p *Process) module() *Module {
	m, _ := p.running()
	return m
}
