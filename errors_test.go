package ward_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/mailbox"
	"github.com/wardrt/ward/registry"
	"github.com/wardrt/ward/supervisor"
)

// TestErrorsSayWardOnce checks the error style of the packages below the
// runtime (runtime/errprefix_test.go checks the runtime's): whatever
// package returns it, an error starts with "ward: " and says it once.
func TestErrorsSayWardOnce(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 1, MaxBytes: 10})
	mb.Push(mailbox.Message{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, recvErr := mailbox.New(mailbox.Limits{MaxMessages: 1, MaxBytes: 1}).Receive(ctx)
	reg := registry.New()
	reg.Register("a", "1.0.0", 1)
	_, multi := environment.Root(environment.Config{MaxMemory: 3, MaxProcesses: -1})
	errs := map[string]error{
		"a full mailbox":           mb.Push(mailbox.Message{}),
		"a receive cut short":      recvErr,
		"a name taken":             reg.Register("a", "1.0.0", 2),
		"a bad name":               reg.Register("", "1.0.0", 2),
		"a bad version":            reg.Register("b", "one", 2),
		"several problems":         multi,
		"an invalid host module":   hostapi.Module{Namespace: "bad name"}.Validate(),
		"an invalid child spec":    supervisor.New("top", supervisor.Options{}).Add(supervisor.ChildSpec{}),
		"a host namespace refused": environment.Config{Namespaces: []string{}}.CheckImports([]environment.Import{{Module: "x", Name: "y"}}),
	}
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if s := err.Error(); !strings.HasPrefix(s, "ward: ") || strings.Count(s, "ward: ") != 1 {
			t.Errorf("%s: %q, want one \"ward: \" prefix", name, s)
		}
	}
}
