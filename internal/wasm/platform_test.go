package wasm

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestUnsupportedPlatformMessage builds this package for systems ward does
// not run on and checks that the build fails saying which ones it does run
// on, rather than with an undefined cgo name or a link error.
func TestUnsupportedPlatformMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("no go command: %v", err)
	}
	for _, env := range [][]string{
		{"CGO_ENABLED=0"},
		{"GOOS=darwin", "GOARCH=arm64"},
		{"GOOS=windows", "GOARCH=amd64"},
		{"GOOS=linux", "GOARCH=386"},
	} {
		t.Run(strings.Join(env, ","), func(t *testing.T) {
			cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("build with %v succeeded; want it refused", env)
			}
			const want = "ward_supports_only_linux_amd64_and_linux_arm64_built_with_CGO_ENABLED_1"
			if !strings.Contains(string(out), want) {
				t.Fatalf("build with %v failed without naming the supported systems:\n%s", env, out)
			}
			if n := strings.Count(string(out), "undefined:"); n != 1 {
				t.Errorf("build with %v gave %d undefined names, want the one message:\n%s", env, n, out)
			}
		})
	}
}
