// Package embed runs a NATS server inside the program, so that one binary,
// or one test, holds a whole ward cluster: every node connects to it with
// an in-process connection, and, when asked, over a loopback TCP listener
// (for nodes in other OS processes).
//
// The server is closed by default: every connection authenticates with an
// nkey. Node credentials may use the whole bus, JetStream included; bus
// credentials (Options.BusClients) may only publish and subscribe under
// the ward subjects, which is what a client that is not a node needs, and
// what a test needs to play a rogue client that has no node identity.
//
// This is the only package of ward that imports nats-server; nothing else
// needs to compile it.
package embed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/wardrt/ward/internal/errs"
)

// Errors Start and Connect wrap, for errors.Is.
var (
	// ErrNotReady: the server did not accept connections in time.
	ErrNotReady = errors.New("ward: embedded NATS server did not become ready")
	// ErrNoCredential: a Cred has no key (its zero value).
	ErrNoCredential = errors.New("ward: embedded NATS server: credential has no key; use NewCred or CredFromSeed")
)

// BusSubjects are the subjects a bus client (Options.BusClients) may use:
// ward's own and reply inboxes.
var BusSubjects = []string{"ward.>", "_INBOX.>"}

// Cred is an nkey user identity: what a connection authenticates with.
// A node can sign its cluster frames with the same key (its Seed).
type Cred struct {
	kp  nkeys.KeyPair
	pub string
}

// NewCred makes a fresh user nkey.
func NewCred() (Cred, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Cred{}, errs.Wrap(err, "making an nkey")
	}
	return credOf(kp)
}

// CredFromSeed restores a user nkey from its seed (as Cred.Seed returns).
func CredFromSeed(seed []byte) (Cred, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return Cred{}, errs.Wrap(err, "reading an nkey seed")
	}
	return credOf(kp)
}

func credOf(kp nkeys.KeyPair) (Cred, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return Cred{}, errs.Wrap(err, "nkey public key")
	}
	return Cred{kp: kp, pub: pub}, nil
}

// Public returns the public key ("U...").
func (c Cred) Public() string { return c.pub }

// Seed returns the private seed: keep it secret.
func (c Cred) Seed() []byte {
	if c.kp == nil {
		return nil
	}
	s, _ := c.kp.Seed()
	return s
}

// Option returns the nats.Connect option that authenticates with c, for
// a connection made outside Server.Connect (over TCP from another process).
func (c Cred) Option() nats.Option {
	return nats.Nkey(c.pub, func(nonce []byte) ([]byte, error) { return c.kp.Sign(nonce) })
}

// Options configure Start.
type Options struct {
	// StoreDir is where JetStream keeps file-backed streams. Empty: a
	// temporary directory removed by Close, for memory-only use.
	StoreDir string
	// Listen opens a TCP listener on Host:Port besides in-process
	// connections; false: in-process only.
	Listen bool
	// Host is the listener's address; default 127.0.0.1.
	Host string
	// Port is the listener's port; 0 picks a free one (see ClientURL).
	Port int
	// TLS, when set, makes the listener take TLS connections only, for a
	// listener other machines reach. In-process connections need none.
	TLS *tls.Config
	// Nodes are the credentials of ward nodes: full access to the bus
	// and JetStream.
	Nodes []Cred
	// BusClients may publish and subscribe on BusSubjects only: no
	// JetStream, so they cannot register as a node.
	BusClients []Cred
	// NoAuth turns authentication off (any client may do anything).
	// Only for a server no one else can reach.
	NoAuth bool
	// MaxPayload caps a message's size; 0 keeps NATS's default (1 MiB).
	MaxPayload int32
	// Name is the server's name; default "ward".
	Name string
	// Logger, if set, receives the server's log; default none.
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits; default 10 s.
	ReadyTimeout time.Duration
}

// Server is a running embedded NATS server.
type Server struct {
	s      *server.Server
	tmpDir string
}

// Start starts a server and waits until it accepts connections (within
// ctx and Options.ReadyTimeout).
func Start(ctx context.Context, o Options) (*Server, error) {
	so := &server.Options{
		ServerName: o.Name,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		DontListen: !o.Listen,
		Host:       o.Host,
		Port:       o.Port,
		NoSigs:     true,
		NoLog:      o.Logger == nil,
		MaxPayload: o.MaxPayload,
		TLSConfig:  o.TLS,
	}
	if so.ServerName == "" {
		so.ServerName = "ward"
	}
	if so.Host == "" {
		so.Host = "127.0.0.1"
	}
	if o.Listen && o.Port == 0 {
		so.Port = server.RANDOM_PORT
	}
	srv := &Server{}
	if so.StoreDir == "" {
		d, err := os.MkdirTemp("", "ward-nats-")
		if err != nil {
			return nil, errs.Wrap(err, "embedded NATS server: store directory")
		}
		srv.tmpDir, so.StoreDir = d, d
	}
	if !o.NoAuth {
		for _, c := range o.Nodes {
			if c.kp == nil {
				srv.removeTmp()
				return nil, errs.Wrap(ErrNoCredential, "embedded NATS server: node credential")
			}
			so.Nkeys = append(so.Nkeys, &server.NkeyUser{Nkey: c.pub})
		}
		bus := &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: BusSubjects},
			Subscribe: &server.SubjectPermission{Allow: BusSubjects},
		}
		for _, c := range o.BusClients {
			if c.kp == nil {
				srv.removeTmp()
				return nil, errs.Wrap(ErrNoCredential, "embedded NATS server: bus credential")
			}
			so.Nkeys = append(so.Nkeys, &server.NkeyUser{Nkey: c.pub, Permissions: bus})
		}
		if len(so.Nkeys) == 0 {
			srv.removeTmp()
			return nil, fmt.Errorf("ward: embedded NATS server: no credentials given; list Options.Nodes (or set NoAuth)")
		}
	}
	s, err := server.NewServer(so)
	if err != nil {
		srv.removeTmp()
		return nil, errs.Wrap(err, "embedded NATS server")
	}
	if o.Logger != nil {
		s.SetLoggerV2(slogAdapter{o.Logger}, false, false, false)
	}
	srv.s = s
	go s.Start()
	wait := o.ReadyTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	if !s.ReadyForConnections(wait) {
		srv.Close()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		return nil, fmt.Errorf("%w within %v", ErrNotReady, wait)
	}
	return srv, nil
}

// Connect opens an in-process connection authenticated as c. Extra
// options go after ward's (a name, handlers).
func (s *Server) Connect(c Cred, opts ...nats.Option) (*nats.Conn, error) {
	all := []nats.Option{nats.InProcessServer(s.s)}
	if c.kp != nil {
		all = append(all, c.Option())
	}
	nc, err := nats.Connect("", append(all, opts...)...)
	if err != nil {
		return nil, errs.Wrap(err, "connecting to the embedded NATS server")
	}
	return nc, nil
}

// ClientURL is the URL of the TCP listener ("" without Options.Listen).
func (s *Server) ClientURL() string {
	if s.s.Addr() == nil {
		return ""
	}
	return s.s.ClientURL()
}

// NATS returns the underlying server, for what this package does not wrap.
func (s *Server) NATS() *server.Server { return s.s }

// Close shuts the server down, waits for it, and removes its temporary
// store directory if Start made one.
func (s *Server) Close() {
	if s.s != nil {
		s.s.Shutdown()
		s.s.WaitForShutdown()
	}
	s.removeTmp()
}

func (s *Server) removeTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
		s.tmpDir = ""
	}
}

// slogAdapter sends the server's log to a slog.Logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(f string, v ...any) { a.l.Info(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Warnf(f string, v ...any)   { a.l.Warn(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Fatalf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Errorf(f string, v ...any)  { a.l.Error(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Debugf(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
func (a slogAdapter) Tracef(f string, v ...any)  { a.l.Debug(fmt.Sprintf(f, v...)) }
