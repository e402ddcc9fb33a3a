package abi

// docs/abi.md and guest/c/ward.h are generated from this package; the
// test TestGeneratedFilesAreCurrent fails when they are stale.
//go:generate go run ../tools/abigen
