package runtime

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// Guest host functions for messages and signals. Message bytes move
// through C (create_data, write_data, read_data); only what needs Go comes
// here: finding the receiver, waiting, links and monitors.

// sendOutgoing sends the guest's outgoing message to pid and returns the
// status the guest sees.
func (p *Process) sendOutgoing(wp *wasm.Proc, pid int64) int64 {
	data, tag := wp.Outgoing()
	q := p.env.rt.lookup(ProcessID(pid))
	if q == nil {
		return abi.ErrNotFound
	}
	if err := q.deliver(Message{Sender: uint64(p.id), Tag: tag, Data: data}); err != nil {
		return statusOf(err)
	}
	return abi.OK
}

func hostSend(p *Process, wp *wasm.Proc) bool {
	wp.Return(p.sendOutgoing(wp, wp.HostArg(0)))
	return true
}

func hostReceive(p *Process, wp *wasm.Proc) bool {
	return p.receiveFor(wp, wp.HostArg(0), wp.HostArg(1), wp.HostArg(2))
}

func hostSendReceive(p *Process, wp *wasm.Proc) bool {
	if st := p.sendOutgoing(wp, wp.HostArg(0)); st != abi.OK {
		wp.Return(st)
		return true
	}
	return p.receiveFor(wp, wp.HostArg(1), wp.HostArg(2), wp.HostArg(3))
}

// receiveFor serves a receive: tags at tagsPtr, a timeout in ms (< 0:
// forever). It returns false if the process was killed while waiting.
func (p *Process) receiveFor(wp *wasm.Proc, tagsPtr, tagsCount, timeoutMs int64) bool {
	n := uint32(tagsCount)
	if n > abi.MaxReceiveTags {
		wp.Return(abi.ErrInvalid)
		return true
	}
	raw, inMem := guestBytes(wp.Memory(), tagsPtr, int64(n)*8)
	if !inMem {
		wp.Trap("ward_message.receive: tags outside the caller's memory")
		return true
	}
	// Most receives filter on a tag or two; a bigger array here would sit
	// on the stack of every process parked in receive.
	var tagBuf [4]int64
	tags := tagBuf[:0]
	if n > uint32(len(tagBuf)) {
		tags = make([]int64, 0, n)
	}
	tags = tags[:n]
	for i := range tags {
		tags[i] = int64(binary.LittleEndian.Uint64(raw[i*8:]))
	}
	if m, ok := p.mb.TryReceive(tags...); ok {
		return p.take(wp, m)
	}
	if timeoutMs == 0 {
		wp.Return(abi.ErrTimeout)
		return true
	}
	if timeoutMs < 0 {
		return p.waitMessage(wp, tags)
	}
	t := time.NewTimer(time.Duration(min(timeoutMs, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond)
	// Parked without a run slot, and without a closure: see hostSleep.
	r := p.env.rt
	r.releaseRun()
	var got Message
	ok, alive, expired := false, true, false
	for alive && !ok && !expired {
		select {
		case _, open := <-p.mb.Notify():
			alive = open && !p.killed.Load()
		case <-t.C:
			expired = true // one last look below
		}
		if alive {
			got, ok = p.mb.TryReceive(tags...)
		}
	}
	t.Stop()
	r.acquireRun()
	switch {
	case !alive:
		return false
	case ok:
		return p.take(wp, got)
	}
	wp.Return(abi.ErrTimeout)
	return true
}

// waitMessage is a receive without a timeout: it waits on the Notify
// channel alone (a kill wakes it too), the cheapest wait Go has.
func (p *Process) waitMessage(wp *wasm.Proc, tags []int64) bool {
	r := p.env.rt
	r.releaseRun()
	for {
		if _, open := <-p.mb.Notify(); !open || p.killed.Load() {
			r.acquireRun()
			return false
		}
		if got, ok := p.mb.TryReceive(tags...); ok {
			r.acquireRun()
			return p.take(wp, got)
		}
	}
}

// take makes m the guest's current message and completes the receive.
func (p *Process) take(wp *wasm.Proc, m Message) bool {
	if !wp.SetMessage(m.Data, m.Tag, m.Sender) {
		wp.Trap("ward_message.receive: out of memory for the message")
		return true
	}
	wp.Return(abi.OK)
	return true
}

func hostSendAfter(p *Process, wp *wasm.Proc) bool {
	data, tag := wp.Outgoing()
	delay := time.Duration(min(max(wp.HostArg(1), 0), math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	if tag < 0 {
		wp.Return(-abi.ErrInvalid)
		return true
	}
	id, err := p.env.rt.sendAfter(p, delay, ProcessID(wp.HostArg(0)), Message{Sender: uint64(p.id), Tag: tag, Data: data})
	if err != nil {
		wp.Return(-statusOf(err))
		return true
	}
	wp.Return(int64(id))
	return true
}

func hostCancelTimer(p *Process, wp *wasm.Proc) bool {
	if p.env.rt.CancelTimer(TimerID(wp.HostArg(0))) {
		wp.Return(abi.OK)
	} else {
		wp.Return(abi.ErrNotFound)
	}
	return true
}

func hostLink(p *Process, wp *wasm.Proc) bool {
	q := p.env.rt.lookup(ProcessID(wp.HostArg(0)))
	if q == nil || p.env.rt.link(p, q) != nil {
		wp.Return(abi.ErrNotFound)
		return true
	}
	wp.Return(abi.OK)
	return true
}

func hostUnlink(p *Process, wp *wasm.Proc) bool {
	p.env.rt.unlink(p, ProcessID(wp.HostArg(0)))
	wp.Return()
	return true
}

func hostTrapExit(p *Process, wp *wasm.Proc) bool {
	p.trapExit.Store(wp.HostArg(0) != 0)
	wp.Return()
	return true
}

func hostMonitor(p *Process, wp *wasm.Proc) bool {
	wp.Return(int64(p.env.rt.monitor(p, ProcessID(wp.HostArg(0)))))
	return true
}

func hostDemonitor(p *Process, wp *wasm.Proc) bool {
	p.env.rt.demonitor(p, MonitorRef(wp.HostArg(0)))
	wp.Return()
	return true
}

// hostKill lets a guest kill processes of its own environment and of the
// environments below it, never above or beside: environments are the
// sandbox boundary.
func hostKill(p *Process, wp *wasm.Proc) bool {
	q := p.env.rt.lookup(ProcessID(wp.HostArg(0)))
	switch {
	case q == nil:
		wp.Return(abi.ErrNotFound)
	case !q.env.within(p.env):
		wp.Return(abi.ErrPermission)
	default:
		q.Kill()
		wp.Return(abi.OK)
	}
	return true
}

func hostExists(p *Process, wp *wasm.Proc) bool {
	if p.env.rt.lookup(ProcessID(wp.HostArg(0))) != nil {
		wp.Return(1)
	} else {
		wp.Return(0)
	}
	return true
}
