package runtime

import (
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
// environment's stream. Only Go guests get one: it costs two descriptors
// and a goroutine while the process lives, small beside a Go guest's
// megabytes, not beside a WAT process's kilobytes.
type stderrTail struct {
	pipe *outPipe
	fwd  *outStream // the environment's stderr stream, or nil
	env  *Environment

	mu   sync.Mutex
	tail []byte
}

// newStderrTail returns a tail whose pipe WASI opens at its path, or nil
// when the environment has no memory or the system no descriptors for
// one: the process then writes to the environment's stream like others.
func (e *Environment) newStderrTail() *stderrTail {
	if !e.mem.Take(stderrTailCost) {
		return nil
	}
	pipe, err := newOutPipe()
	if err != nil {
		e.mem.Give(stderrTailCost)
		return nil
	}
	t := &stderrTail{pipe: pipe, fwd: e.stream(outStderr), env: e}
	go t.copy()
	return t
}

// closeWrite closes ward's write end, once WASI has opened its own (or
// will not): the copier then ends when the process's store is freed.
func (t *stderrTail) closeWrite() {
	if t != nil {
		t.pipe.w.Close()
	}
}

// release gives back the tail's charge. The process calls it before its
// store is freed, which may drop the last reference to the budget; the
// copier may read on a little longer, to the end of the pipe.
func (t *stderrTail) release() {
	if t != nil {
		t.env.mem.Give(stderrTailCost)
	}
}

// copy drains the pipe until the process's store closes its end.
func (t *stderrTail) copy() {
	defer t.pipe.r.Close()
	rc, err := t.pipe.r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 4<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			t.mu.Lock()
			defer t.mu.Unlock()
			n, rerr = syscall.Read(int(fd), buf)
			if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
				return false // wait until readable
			}
			t.takeLocked(buf[:max(n, 0)])
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
	rc, err := t.pipe.r.SyscallConn()
	if err != nil {
		return // the copier has read to the end and closed it
	}
	rc.Control(func(fd uintptr) {
		t.mu.Lock()
		defer t.mu.Unlock()
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
	t.mu.Lock()
	defer t.mu.Unlock()
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
