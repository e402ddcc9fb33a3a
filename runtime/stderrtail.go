package runtime

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
)

// stderrTailSize is how much of a Go guest's stderr its process keeps for
// the reason it ends with: a panic's message and the top of its trace.
const stderrTailSize = 4 << 10

// stderrTailCost is what a tail is charged to its environment's
// MaxTotalMemory: the tail, the copier's buffer and goroutine.
const stderrTailCost = 16 << 10

// stderrTail is a Go guest process's own stderr. The Go runtime writes a
// panic's message only to stderr, and an environment's stderr stream mixes
// every process's output (and is discarded unless the embedder set a
// Writer), so a process that is to report its own panic needs a pipe of
// its own: ward drains it at once, keeps the last stderrTailSize bytes
// for the process's reason and log line, and passes everything on to the
// environment's stream. Only Go guests get one, and the pipe is lent, not
// made: see tailPipe.
type stderrTail struct {
	pipe *tailPipe
	fwd  *outStream // the environment's stderr stream, or nil
	env  *Environment

	tail []byte // under pipe.mu
}

// tailPipe is a pipe for stderr tails, with the goroutine that drains it
// into whichever tail holds it. Making one costs about ten system calls
// (pipe2, fcntl, epoll_ctl and close for each end, a goroutine), a fifth
// of a Go guest's start from its image on this project's VM, where system
// calls are slow; so the runtime keeps up to maxIdleTailPipes of them
// between processes (tailPipes), and Close closes them. A pipe changes
// hands only after its last holder's guest has stopped and its pipe was
// drained under mu, so no byte reaches the wrong process.
type tailPipe struct {
	r    *os.File // non-blocking, watched by the netpoller
	w    int      // ward's write end, kept open: WASI opens path, its name
	path string

	mu     sync.Mutex
	holder *stderrTail // nil between processes
}

// maxIdleTailPipes bounds the pipes a runtime keeps for the next Go
// guest: two descriptors and a parked goroutine each.
const maxIdleTailPipes = 8

// tailPipes is the runtime's idle tail pipes.
type tailPipes struct {
	mu     sync.Mutex
	idle   []*tailPipe
	closed bool
}

func (ps *tailPipes) get() (*tailPipe, error) {
	ps.mu.Lock()
	if n := len(ps.idle); n > 0 {
		tp := ps.idle[n-1]
		ps.idle = ps.idle[:n-1]
		ps.mu.Unlock()
		return tp, nil
	}
	ps.mu.Unlock()
	return newTailPipe()
}

// put keeps tp for the next process, or closes it.
func (ps *tailPipes) put(tp *tailPipe) {
	ps.mu.Lock()
	if !ps.closed && len(ps.idle) < maxIdleTailPipes {
		ps.idle = append(ps.idle, tp)
		ps.mu.Unlock()
		return
	}
	ps.mu.Unlock()
	tp.close()
}

// close closes the idle pipes, and any put after it.
func (ps *tailPipes) close() {
	ps.mu.Lock()
	idle := ps.idle
	ps.idle, ps.closed = nil, true
	ps.mu.Unlock()
	for _, tp := range idle {
		tp.close()
	}
}

func newTailPipe() (*tailPipe, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, err
	}
	// A non-blocking descriptor goes to the netpoller; the write end,
	// which ward never writes, stays a plain descriptor.
	tp := &tailPipe{r: os.NewFile(uintptr(fds[0]), "stderr tail"), w: fds[1], path: fmt.Sprintf("/proc/self/fd/%d", fds[1])}
	go tp.copy()
	return tp, nil
}

// close closes ward's write end: the copier ends at EOF, once the stores
// that opened the pipe are freed too, and closes the read end.
func (tp *tailPipe) close() { syscall.Close(tp.w) }

// newStderrTail returns a tail whose pipe WASI opens at its path, or nil
// when the environment has no memory or the system no descriptors for
// one: the process then writes to the environment's stream like others.
func (e *Environment) newStderrTail() *stderrTail {
	if !e.mem.Take(stderrTailCost) {
		return nil
	}
	tp, err := e.rt.tailPipes.get()
	if err != nil {
		e.mem.Give(stderrTailCost)
		return nil
	}
	t := &stderrTail{pipe: tp, fwd: e.stream(outStderr), env: e}
	tp.mu.Lock()
	tp.holder = t
	tp.mu.Unlock()
	return t
}

// release gives back the tail's charge and lends its pipe to the next
// process, once the pipe holds nothing of this one's: called with the
// guest stopped for good (ended, or replaced by an upgrade), before its
// store, which may drop the last reference to the budget, is freed.
func (t *stderrTail) release() {
	if t == nil {
		return
	}
	t.drain()
	tp := t.pipe
	tp.mu.Lock()
	tp.holder = nil
	tp.mu.Unlock()
	t.env.rt.tailPipes.put(tp)
	t.env.mem.Give(stderrTailCost)
}

// copy drains the pipe into its holder until ward's write end and every
// store's are closed.
func (tp *tailPipe) copy() {
	defer tp.r.Close()
	rc, err := tp.r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 4<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			tp.mu.Lock()
			defer tp.mu.Unlock()
			n, rerr = syscall.Read(int(fd), buf)
			if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
				return false // wait until readable
			}
			if tp.holder != nil {
				tp.holder.takeLocked(buf[:max(n, 0)])
			}
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// drain takes what the pipe holds now. Called once the guest has stopped,
// it leaves everything the guest wrote in the tail and the stream.
func (t *stderrTail) drain() {
	tp := t.pipe
	rc, err := tp.r.SyscallConn()
	if err != nil {
		return // the copier has read to the end and closed it
	}
	rc.Control(func(fd uintptr) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		var buf [4 << 10]byte
		for {
			n, err := syscall.Read(int(fd), buf[:])
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 {
				return
			}
			t.takeLocked(buf[:n])
		}
	})
}

func (t *stderrTail) takeLocked(b []byte) {
	if len(b) == 0 {
		return
	}
	if t.fwd != nil {
		t.fwd.mu.Lock()
		t.fwd.takeLocked(b)
		t.fwd.mu.Unlock()
	}
	t.tail = append(t.tail, b...)
	if over := len(t.tail) - stderrTailSize; over > 0 {
		t.tail = append(t.tail[:0], t.tail[over:]...)
	}
}

// text drains the pipe and returns the tail.
func (t *stderrTail) text() string {
	if t == nil {
		return ""
	}
	t.drain()
	t.pipe.mu.Lock()
	defer t.pipe.mu.Unlock()
	return string(t.tail)
}

// panicLine returns the line of a Go guest's stderr that says why it
// died ("panic: ..." or "fatal error: ..."), or "".
func panicLine(stderr string) string {
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
