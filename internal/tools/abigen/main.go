// Command abigen writes ward's ABI reference page (docs/abi.md) and C guest
// header (guest/c/ward.h) from internal/abi: abi.Funcs and the constants
// beside it. Both are committed; a test in internal/abi fails when they are
// stale.
//
// Usage, from anywhere inside the module:
//
//	go run ./internal/tools/abigen [-check] [-root dir]
//
// or go generate ./internal/abi. A file is rewritten only when its content
// would change. With -check nothing is written: abigen names every file
// that is missing or differs from what it would generate and exits 1 if
// there are any.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/tools/abigen/gen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, apart from exiting. It returns the exit status:
// 0 done (or, with -check, everything current), 1 an error or, with -check,
// something stale, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("abigen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	check := flags.Bool("check", false, "write nothing; list generated files that are missing or stale and exit 1 if any are")
	root := flags.String("root", "", "the module root (default: the nearest directory with a go.mod, from the current one up)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: abigen [-check] [-root dir]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 0 {
		flags.Usage()
		return 2
	}
	dir := *root
	if dir == "" {
		var err error
		if dir, err = gen.FindRoot("."); err != nil {
			fmt.Fprintln(stderr, "abigen:", err)
			return 1
		}
	}
	files, err := gen.Generate(dir, abi.Funcs)
	if err != nil {
		fmt.Fprintln(stderr, "abigen:", err)
		return 1
	}
	if *check {
		stale, err := gen.Stale(dir, files)
		if err != nil {
			fmt.Fprintln(stderr, "abigen:", err)
			return 1
		}
		for _, p := range stale {
			fmt.Fprintf(stdout, "%s: out of date (run %s)\n", p, gen.RegenerateCmd)
		}
		if len(stale) > 0 {
			return 1
		}
		return 0
	}
	written, err := gen.Write(dir, files)
	for _, p := range written {
		fmt.Fprintln(stdout, "wrote", p)
	}
	if err != nil {
		fmt.Fprintln(stderr, "abigen:", err)
		return 1
	}
	return 0
}
