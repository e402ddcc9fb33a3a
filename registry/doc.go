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
// A Registry is safe for concurrent use.
package registry
