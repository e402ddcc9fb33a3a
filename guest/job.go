package guest

import "time"

// Jobs (see the host's cluster.Node.Run): a job is a process spawned for
// one input. The input is the process's first message, sent as a request
// (under a fresh tag); the job's result is its reply to that message
// (Reply), and a job that ends before replying fails with its exit reason.

// JobFailed is the exit code of a job whose function returned an error
// (see ServeJob).
const JobFailed = 1

// ServeJob runs this process as a job: it waits for the job's input, calls
// f with it and replies with f's result. When f fails, the error's text
// goes to stderr and the process exits with code JobFailed, which the
// job's caller gets as the job's exit reason.
func ServeJob(f func(in []byte) ([]byte, error)) error {
	req, err := Receive()
	if err != nil {
		return err
	}
	out, err := f(req.Data)
	if err != nil {
		println("ward: job failed:", err.Error())
		Exit(JobFailed)
	}
	return Reply(req, out)
}

// JobServer is the name, in the registry of the environments a node
// offers jobs to, of the node's job server: the process that starts jobs
// for guests (RunJob).
const JobServer = "ward.jobs"

// Where a job started with RunJob runs: JobLocal (this node), JobAny
// (a node the host picks), or a node's number (JobOn).
const (
	JobLocal uint32 = 0
	JobAny   uint32 = 1 << 16
)

// JobOn places a job on the node numbered node.
func JobOn(node uint16) uint32 { return uint32(node) }

// jobRequest is what RunJob asks the job server; the host's cluster
// package decodes the same keys.
type jobRequest struct {
	Where uint32 `cbor:"1,keyasint"`
	Hash  string `cbor:"2,keyasint"`
	Entry string `cbor:"3,keyasint"`
	In    []byte `cbor:"4,keyasint"`
}

// jobReply is the job server's answer: the job's result, or why there is
// none.
type jobReply struct {
	Out []byte `cbor:"1,keyasint"`
	Err string `cbor:"2,keyasint"`
}

// JobError is a job that failed: the text of its failure as the host
// wrote it (an exit reason, a refused spawn, a node that is not there).
type JobError struct{ Text string }

func (e *JobError) Error() string { return e.Text }

// RunJob runs a job through the node's job server (JobServer, which must
// be registered in this process's environment): the export entry of the
// module with SHA-256 hash (hex), on where, with input in. It waits up to
// timeout for the result. Errors are Lookup's and Request's, or a
// *JobError for the job's own failure.
func RunJob(where uint32, hash, entry string, in []byte, timeout time.Duration) ([]byte, error) {
	srv, err := Lookup(JobServer, "")
	if err != nil {
		return nil, err
	}
	b, err := Encode(jobRequest{Where: where, Hash: hash, Entry: entry, In: in})
	if err != nil {
		return nil, err
	}
	m, err := Request(srv, b, timeout)
	if err != nil {
		return nil, err
	}
	var rep jobReply
	if err := m.Decode(&rep); err != nil {
		return nil, err
	}
	if rep.Err != "" {
		return nil, &JobError{Text: rep.Err}
	}
	return rep.Out, nil
}
