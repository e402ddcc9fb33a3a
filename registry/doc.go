// Package registry maps names with semantic versions to process ids.
//
// Each ward environment owns one Registry, so a name is unique within its
// environment and invisible to others. An entry is keyed by its name and
// its exact version: "db@1.2.0" and "db@1.3.0" may belong to different
// processes at once, which is what lets a caller ask for "db@^1.2" and get
// the newest compatible server while older clients keep talking to theirs.
//
// Versions and constraints use github.com/Masterminds/semver/v3. Build
// metadata does not make a version distinct ("1.2.0+a" and "1.2.0+b" are the
// same key), because semver gives it no precedence and a constraint could
// not choose between the two. A constraint without a pre-release part does
// not match pre-release versions; "^1.2.0-0" does.
//
// Names die with their process: the runtime calls RemoveProcess when a
// process exits, after which the names may be registered again.
//
// GetOrSpawn is the get-or-create used to start singleton services: however
// many callers race for the same name and version, the spawn function runs
// once and all of them get the same process id.
//
// What is bounded: a Registry holds as many entries as its Budget allows
// (WithBudget); without one, as many as memory allows. The ward runtime
// gives each environment's Registry a Budget that enforces the
// environment's MaxEnvironmentNames, counting its child environments'
// entries, and itself bounds each process's entries by MaxNames (see
// Count), because both are host memory an untrusted guest makes the host
// hold.
//
// Costs, with n the versions of one name: Register, Unregister and
// GetOrSpawn cost a binary search and a memmove of that name's n pointers;
// RemoveProcess one pass over each name the process held a version of,
// however many versions; Lookup of an exact version a binary search, and
// of any other constraint one check per version it skips, highest first
// (a constraint that only the lowest version meets checks all n).
// BenchmarkVersions measures them.
//
// A Registry is safe for concurrent use.
package registry
