// Command e2e is a test guest: one export per area of the guest SDK, each
// checking the SDK's calls against a real ward runtime and reporting "ok"
// or what went wrong to the process whose id it is given. e2e_test.go (on
// the host) runs them; main.go is the guest.
package main

// go generate runs on the host and skips files built only for wasip1,
// hence this line here.
//go:generate go run ../wasmbuild -o e2e.wasm .

// main is never called in the guest (a c-shared module runs exports), and
// there is nothing to run on the host.
func main() {}
