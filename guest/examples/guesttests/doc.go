// Package guesttests shows a Go guest tested the Go way: the guest in
// ./guest exports test_* functions, and guesttests_test.go builds it and
// runs them as subtests with guesttest.Run.
//
//	go test -v ./guest/examples/guesttests
package guesttests
