//go:build !race

package runtime

// raceDetector reports whether the tests run under -race, whose shadow
// memory (and its delayed release) makes RSS-after-free figures noise.
const raceDetector = false
