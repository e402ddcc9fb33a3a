// Command wasmbuild builds a Go guest package for ward and checks that a
// committed build is current.
//
//	go run ./guest/internal/wasmbuild -o hello.wasm [DIR]
//	go run ./guest/internal/wasmbuild -check -o hello.wasm [DIR]
//
// DIR is the guest package's directory, "." by default; OUT is relative to
// the current directory. A go:generate line in the package runs the first
// form. The build is the standard toolchain's, made reproducible:
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -o OUT
//
// run in DIR.
// -trimpath keeps the checkout's path out of the module and -buildvcs=false
// keeps out the commit (which would make every commit's build stale). Beside
// OUT it writes OUT.inputs, a text file naming what went in: the Go version,
// the flags, every module dependency at its version, and the SHA-256 of every
// file of this module compiled into it, then the SHA-256 of OUT itself.
//
// With -check it builds nothing into place. It checks OUT's SHA-256
// against the one OUT.inputs records; then, when this toolchain is the one
// recorded, it rebuilds into a temporary directory and compares the bytes
// (Go builds reproduce exactly with the same toolchain and flags). With
// another toolchain the bytes would differ anyway, so it compares the
// inputs instead: a changed source file or dependency means OUT is stale.
// It exits 1 when OUT is stale, 2 when it cannot tell.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// buildFlags are the go build flags; they are recorded in the inputs.
var buildFlags = []string{"-buildmode=c-shared", "-trimpath", "-buildvcs=false"}

// buildEnv is added to the environment of every go command.
var buildEnv = []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}

func main() {
	out := flag.String("o", "", "the .wasm file to write or check (required)")
	check := flag.Bool("check", false, "check that -o is current instead of building it")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: wasmbuild [-check] -o out.wasm [dir]")
		flag.PrintDefaults()
	}
	flag.Parse()
	dir := "."
	if flag.NArg() == 1 {
		dir = flag.Arg(0)
	}
	if *out == "" || flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	if *check {
		err = checkBuild(dir, *out)
	} else {
		err = build(dir, *out)
	}
	var stale staleError
	switch {
	case errors.As(err, &stale):
		fmt.Fprintf(os.Stderr, "wasmbuild: %s is stale: %s\nrebuild it with `go generate` in its directory and commit it with %s.inputs\n",
			*out, stale, filepath.Base(*out))
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "wasmbuild:", err)
		os.Exit(2)
	}
}

// staleError says why a committed build is out of date.
type staleError string

func (e staleError) Error() string { return string(e) }

func build(dir, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := goBuild(dir, out); err != nil {
		return err
	}
	in, err := inputs(dir)
	if err != nil {
		return err
	}
	sum, err := fileSum(out)
	if err != nil {
		return err
	}
	in = append(in, "wasm "+sum)
	head := "# What went into " + filepath.Base(out) + "; written by guest/internal/wasmbuild, which -check compares.\n"
	return os.WriteFile(out+".inputs", []byte(head+strings.Join(in, "\n")+"\n"), 0o644)
}

// checkBuild reports, as a staleError, whether out is not what building the
// package in dir makes; other errors mean it could not tell.
func checkBuild(dir, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	committed, err := readInputs(out + ".inputs")
	if errors.Is(err, os.ErrNotExist) {
		return staleError(out + ".inputs is missing")
	}
	if err != nil {
		return err
	}
	sum, err := fileSum(out)
	if err != nil {
		return err
	}
	if want := field(committed, "wasm"); want != sum {
		return staleError(fmt.Sprintf("its SHA-256 is %s, %s.inputs records %s", sum, filepath.Base(out), want))
	}
	now, err := inputs(dir)
	if err != nil {
		return err
	}
	changed := diff(without(committed, "go", "wasm"), without(now, "go"))
	builtWith, goNow := field(committed, "go"), field(now, "go")
	if builtWith != goNow {
		// Another toolchain builds other bytes: the inputs are all there
		// is to compare.
		if changed != "" {
			return staleError("its inputs changed since it was built with " + builtWith + ":\n" + changed)
		}
		fmt.Fprintf(os.Stderr, "wasmbuild: %s was built with %s and this is %s: its inputs match; bytes not compared\n",
			out, builtWith, goNow)
		return nil
	}
	// The same toolchain reproduces the bytes: they are what counts.
	tmp, err := os.MkdirTemp("", "wasmbuild")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fresh := filepath.Join(tmp, filepath.Base(out))
	if err := goBuild(dir, fresh); err != nil {
		return err
	}
	a, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(fresh)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		why := fmt.Sprintf("a fresh build with %s differs (%d bytes, committed %d)", goNow, len(b), len(a))
		if changed != "" {
			why += "; changed inputs:\n" + changed
		}
		return staleError(why)
	}
	if changed != "" {
		fmt.Fprintf(os.Stderr, "wasmbuild: %s is current, but %s.inputs lists old inputs (go generate refreshes it):\n%s",
			out, filepath.Base(out), changed)
	}
	return nil
}

// goBuild builds the package in dir to out (absolute).
func goBuild(dir, out string) error {
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("in %s: GOOS=wasip1 GOARCH=wasm go %s: %w", dir, strings.Join(args, " "), err)
	}
	return nil
}

// listed is what go list -json says of one package.
type listed struct {
	ImportPath string
	Dir        string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Module     *struct {
		Path    string
		Version string
		Main    bool
		Dir     string
	}
}

// inputs returns the lines describing what a build of the package in dir compiles, sorted
// within each kind: "go VERSION", "flags ...", "module PATH VERSION",
// "file PATH SHA256" (PATH relative to the main module's root).
func inputs(dir string) ([]string, error) {
	goVersion, err := goOutput(dir, "env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	list, err := goOutput(dir, "list", "-deps", "-json=ImportPath,Dir,Standard,GoFiles,EmbedFiles,Module", ".")
	if err != nil {
		return nil, err
	}
	var mods, files []string
	dec := json.NewDecoder(strings.NewReader(list))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list: %w", err)
		}
		switch {
		case p.Standard:
		case p.Module == nil:
			return nil, fmt.Errorf("package %s is in no module", p.ImportPath)
		case !p.Module.Main:
			mods = append(mods, "module "+p.Module.Path+" "+p.Module.Version)
		default:
			for _, f := range slices.Concat(p.GoFiles, p.EmbedFiles) {
				path := filepath.Join(p.Dir, f)
				sum, err := fileSum(path)
				if err != nil {
					return nil, err
				}
				rel, err := filepath.Rel(p.Module.Dir, path)
				if err != nil {
					return nil, err
				}
				files = append(files, "file "+filepath.ToSlash(rel)+" "+sum)
			}
		}
	}
	slices.Sort(mods)
	slices.Sort(files)
	in := []string{"go " + strings.TrimSpace(goVersion), "flags " + strings.Join(buildFlags, " ")}
	return append(append(in, slices.Compact(mods)...), files...), nil
}

func goOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

func readInputs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// field returns the rest of the first line starting with key and a space.
func field(lines []string, key string) string {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, key+" "); ok {
			return rest
		}
	}
	return ""
}

// without returns lines minus those starting with any of keys.
func without(lines []string, keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		k, _, _ := strings.Cut(l, " ")
		return slices.Contains(keys, k)
	})
}

// diff lists the lines only in a (-) and only in b (+).
func diff(a, b []string) string {
	var d strings.Builder
	for _, l := range a {
		if !slices.Contains(b, l) {
			d.WriteString("  - " + l + "\n")
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			d.WriteString("  + " + l + "\n")
		}
	}
	return d.String()
}
