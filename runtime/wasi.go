package runtime

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/wardrt/ward/internal/errs"
)

// WASI output goes through a pipe: wasmtime's C API (v25) can only send a
// guest's stdout to a file path, so each process opens /proc/self/fd/N of
// the pipe's write end, and ward copies what arrives to the embedder's
// io.Writer. wasmtime's fd_write cannot be shadowed by ward (docs/why.md),
// so the guest's write to the pipe happens on the guest's fiber, holding a
// run slot, and must never block for long:
//
//   - a copier goroutine per pipe drains it into the stream's backlog at
//     once, whatever the Writer does;
//   - a writer goroutine, running only while the backlog is not empty,
//     gives the backlog to the Writer;
//   - past outBacklog bytes waiting for a slow or blocked Writer, output
//     is dropped and counted (Environment.WASIOutputDropped).
//
// A pipe exists only while processes of the environment use it: the last
// one to end closes it, so an environment holds no descriptor and no
// goroutine while it runs nothing (except a writer stuck in a Writer that
// never returns). Writes of up to 4 KiB (PIPE_BUF) from different
// processes do not interleave.
type outStream struct {
	dst io.Writer

	mu       sync.Mutex
	pipe     *outPipe // while users > 0
	users    int      // processes that opened pipe
	buf      []byte   // read from pipes, not yet given to dst
	read     uint64   // bytes read from pipes
	settled  uint64   // of those, given to dst or dropped
	dropped  uint64
	writing  bool          // a writer goroutine runs
	progress chan struct{} // closed, and replaced, when settled grows
}

// outBacklog is the most output, per stream of an environment, that waits
// for a slow Writer before more is dropped.
const outBacklog = 1 << 20

type outPipe struct {
	r, w *os.File
	path string
}

func (e *Environment) stream(k outKey) *outStream {
	dst := e.cfg.WASI.Stdout
	if k == outStderr {
		dst = e.cfg.WASI.Stderr
	}
	if dst == nil || dst == io.Discard {
		return nil
	}
	e.outMu.Lock()
	defer e.outMu.Unlock()
	s := e.outputs[k]
	if s == nil {
		s = &outStream{dst: dst, progress: make(chan struct{})}
		if e.outputs == nil {
			e.outputs = map[outKey]*outStream{}
		}
		e.outputs[k] = s
	}
	return s
}

// outputPath returns the path WASI should open for stdout or stderr, or ""
// when the stream is discarded. Each call must be matched by one of
// releaseOutputs once the process's store, which holds the opened file, is
// freed.
func (e *Environment) outputPath(k outKey) (string, error) {
	s := e.stream(k)
	if s == nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipe == nil {
		o, err := newOutPipe()
		if err != nil {
			return "", errs.Wrap(err, "WASI output pipe")
		}
		s.pipe = o
		go s.copy(o)
	}
	s.users++
	return s.pipe.path, nil
}

func newOutPipe() (*outPipe, error) {
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
	return &outPipe{r: r, w: w, path: fmt.Sprintf("/proc/self/fd/%d", fd)}, nil
}

// copy drains o into the backlog until every write end is closed.
func (s *outStream) copy(o *outPipe) {
	defer o.r.Close()
	rc, err := o.r.SyscallConn()
	if err != nil {
		return
	}
	tmp := make([]byte, 32<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			n, rerr = syscall.Read(int(fd), tmp)
			if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
				return false // wait until readable
			}
			if n > 0 {
				s.takeLocked(tmp[:n])
			}
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			return // EOF: every writer, ours and the processes', is closed
		}
	}
}

func (s *outStream) takeLocked(b []byte) {
	s.read += uint64(len(b))
	keep := min(len(b), outBacklog-len(s.buf))
	s.buf = append(s.buf, b[:keep]...)
	if drop := len(b) - keep; drop > 0 {
		s.dropped += uint64(drop)
		s.settleLocked(drop)
	}
	if keep > 0 && !s.writing {
		s.writing = true
		go s.write()
	}
}

func (s *outStream) settleLocked(n int) {
	s.settled += uint64(n)
	close(s.progress)
	s.progress = make(chan struct{})
}

// write gives the backlog to dst until it is empty, then ends.
func (s *outStream) write() {
	for {
		s.mu.Lock()
		b := s.buf
		s.buf = nil
		if len(b) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.dst.Write(b) // a failing Writer loses output, never the process
		s.mu.Lock()
		s.settleLocked(len(b))
		s.mu.Unlock()
	}
}

// pendingLocked is what the pipe holds that the copier has not read yet.
func (s *outStream) pendingLocked() uint64 {
	if s.pipe == nil {
		return 0
	}
	rc, err := s.pipe.r.SyscallConn()
	if err != nil {
		return 0
	}
	var pending int32
	var ioErr syscall.Errno
	rc.Control(func(fd uintptr) {
		_, _, ioErr = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&pending)))
	})
	if ioErr != 0 || pending < 0 {
		return 0
	}
	return uint64(pending)
}

// flush waits until everything written to the stream so far has reached
// dst (or was dropped), so output a process wrote is visible once Wait
// returns; a kill of p ends the wait, so a Writer that blocks forever
// cannot keep p from ending.
func (s *outStream) flush(p *Process) {
	s.mu.Lock()
	target := s.read + s.pendingLocked()
	for s.settled < target && !p.killed.Load() {
		ch := s.progress
		s.mu.Unlock()
		select {
		case <-ch:
		case _, open := <-p.mb.Notify():
			if !open {
				return
			}
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
}

func (s *outStream) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == 0 {
		return
	}
	s.users--
	if s.users == 0 && s.pipe != nil {
		s.pipe.w.Close() // the copier ends at EOF and closes the read end
		s.pipe = nil
	}
}

// syncOutputs orders what the embedder wrote to the WASI Writers before
// this process starts before what the writer goroutine writes for it. The
// pipe orders the bytes; the race detector cannot see that, so the process
// takes the stream's lock once before the guest runs.
func (e *Environment) syncOutputs() {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	for _, s := range e.outputs {
		s.mu.Lock()
		s.mu.Unlock() //nolint:staticcheck // an empty critical section: a happens-before edge
	}
}

// flushOutputs waits for p's output to reach the Writers, or for p's kill.
// tail, if not nil, is p's own stderr, which passes its output on.
func (e *Environment) flushOutputs(p *Process, tail *stderrTail) {
	if tail != nil {
		tail.drain()
	}
	for _, k := range []outKey{outStdout, outStderr} {
		if s := e.stream(k); s != nil {
			s.flush(p)
		}
	}
}

// releaseOutputs undoes outputPath for both streams.
func (e *Environment) releaseOutputs() {
	for _, k := range []outKey{outStdout, outStderr} {
		if s := e.stream(k); s != nil {
			s.release()
		}
	}
}

// WASIOutputDropped reports how many bytes of its processes' WASI stdout
// and stderr the environment dropped because its Writer fell more than
// 1 MiB behind (or blocked). Output is dropped rather than made to wait:
// a guest writing to stdout holds a run slot while its write is pending.
func (e *Environment) WASIOutputDropped() (stdout, stderr uint64) {
	get := func(k outKey) uint64 {
		e.outMu.Lock()
		s := e.outputs[k]
		e.outMu.Unlock()
		if s == nil {
			return 0
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.dropped
	}
	return get(outStdout), get(outStderr)
}
