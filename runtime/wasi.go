package runtime

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// WASI output goes through a pipe per environment and stream: wasmtime's C
// API (v25) can only send a guest's stdout to a file path, so each process
// opens /proc/self/fd/N of the pipe's write end, and one goroutine copies
// what arrives to the embedder's io.Writer. Writes of up to 4 KiB (PIPE_BUF)
// from different processes do not interleave.
type outPipe struct {
	r, w *os.File
	path string
	dst  io.Writer
	mu   sync.Mutex // held while bytes move from the pipe to dst
	done chan struct{}
}

// outputPath returns the path WASI should open for stdout or stderr, or ""
// when the stream is discarded.
func (e *Environment) outputPath(k outKey) (string, error) {
	dst := e.cfg.WASI.Stdout
	if k == outStderr {
		dst = e.cfg.WASI.Stderr
	}
	if dst == nil || dst == io.Discard {
		return "", nil
	}
	e.outMu.Lock()
	defer e.outMu.Unlock()
	if o, ok := e.outputs[k]; ok {
		return o.path, nil
	}
	o, err := newOutPipe(dst)
	if err != nil {
		return "", fmt.Errorf("ward: WASI output pipe: %w", err)
	}
	// The pipe goes when the environment ends (envLife.release), which
	// may be after the environment itself is gone: o.close must not, and
	// does not, refer to e.
	if !e.life.hold(o.close) {
		o.close()
		return "", e.closedError("WASI output")
	}
	if e.outputs == nil {
		e.outputs = map[outKey]*outPipe{}
	}
	e.outputs[k] = o
	return o.path, nil
}

func newOutPipe(dst io.Writer) (*outPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var fd uintptr
	rc, err := w.SyscallConn()
	if err == nil {
		err = rc.Control(func(f uintptr) { fd = f })
	}
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	o := &outPipe{r: r, w: w, dst: dst, path: fmt.Sprintf("/proc/self/fd/%d", fd), done: make(chan struct{})}
	go o.copy()
	return o, nil
}

func (o *outPipe) copy() {
	defer close(o.done)
	rc, err := o.r.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			n, rerr = syscall.Read(int(fd), buf)
			if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
				return false // wait until readable
			}
			if n > 0 {
				o.dst.Write(buf[:n]) // a failing Writer loses output, never the process
			}
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			return // EOF: every writer, ours and the processes', is closed
		}
	}
}

// flush waits until everything written to the pipe so far has reached dst,
// so output a process wrote is visible once Wait returns.
func (o *outPipe) flush() {
	rc, err := o.r.SyscallConn()
	if err != nil {
		return
	}
	for {
		var pending int32
		var ioErr syscall.Errno
		o.mu.Lock()
		rc.Control(func(fd uintptr) {
			_, _, ioErr = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&pending)))
		})
		o.mu.Unlock()
		if ioErr != 0 || pending == 0 {
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func (o *outPipe) close() {
	o.w.Close()
	<-o.done
	o.r.Close()
}

// syncOutputs orders what the embedder wrote to the WASI Writers before
// this process starts before what the copier writes for it. The pipe
// orders the bytes; the race detector cannot see that, so the process
// takes the copier's lock once before the guest runs.
func (e *Environment) syncOutputs() {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	for _, o := range e.outputs {
		o.mu.Lock()
		o.mu.Unlock() //nolint:staticcheck // an empty critical section: a happens-before edge
	}
}

func (e *Environment) flushOutputs() {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	for _, o := range e.outputs {
		o.flush()
	}
}
