package registry_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/registry"
)

func ExampleRegistry_Lookup() {
	r := registry.New()
	_ = r.Register("db", "1.2.0", 10)
	_ = r.Register("db", "1.4.1", 11)
	_ = r.Register("db", "2.0.0", 12)
	_ = r.Register("db", "2.1.0-rc.1", 13)

	for _, c := range []string{"^1.2", "*", "^2.1.0-0", "^3"} {
		e, err := r.Lookup("db", c)
		if errors.Is(err, registry.ErrNotFound) {
			fmt.Printf("%-9s not found\n", c)
			continue
		}
		fmt.Printf("%-9s %s held by %d\n", c, e, e.ID)
	}
	// Output:
	// ^1.2      db@1.4.1 held by 11
	// *         db@2.0.0 held by 12
	// ^2.1.0-0  db@2.1.0-rc.1 held by 13
	// ^3        not found
}

func ExampleRegistry_Register() {
	r := registry.New()
	_ = r.Register("db", "1.0.0", 1)
	err := r.Register("db", "1.0.0", 2)
	fmt.Println(errors.Is(err, registry.ErrTaken))
	fmt.Println(err)

	// When process 1 exits, its names are freed for others.
	fmt.Println(r.RemoveProcess(1))
	fmt.Println(r.Register("db", "1.0.0", 2))
	// Output:
	// true
	// ward: name taken: db@1.0.0 is held by process 1
	// [db@1.0.0]
	// <nil>
}

func ExampleRegistry_GetOrSpawn() {
	r := registry.New()
	start := func(context.Context) (registry.ID, error) {
		fmt.Println("starting db")
		return 42, nil
	}
	for range 2 {
		id, spawned, err := r.GetOrSpawn(context.Background(), "db", "1.0.0", start)
		fmt.Println(id, spawned, err)
	}
	// Output:
	// starting db
	// 42 true <nil>
	// 42 false <nil>
}

// limit is a Budget of a fixed number of entries for one Registry; the
// ward runtime's Budget charges an environment and its ancestors instead.
type limit struct{ held, max int }

var errTooMany = errors.New("too many names")

func (l *limit) Take() error {
	if l.held >= l.max {
		return fmt.Errorf("%w (limit %d)", errTooMany, l.max)
	}
	l.held++
	return nil
}

func (l *limit) Give(n int) { l.held -= n }

func ExampleWithBudget() {
	b := &limit{max: 2}
	r := registry.New(registry.WithBudget(b))
	fmt.Println(r.Register("db", "1.0.0", 1))
	fmt.Println(r.Register("db", "1.1.0", 1))
	err := r.Register("db", "1.2.0", 2)
	fmt.Println(errors.Is(err, errTooMany), err)

	// Every entry that goes gives its room back.
	r.RemoveProcess(1)
	fmt.Println(b.held)
	fmt.Println(r.Register("db", "1.2.0", 2))
	// Output:
	// <nil>
	// <nil>
	// true ward: db@1.2.0: too many names (limit 2)
	// 0
	// <nil>
}
