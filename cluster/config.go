package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Defaults of Config.
const (
	DefaultCluster           = "ward"
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatMisses   = 3
)

// ErrConfig is wrapped by Join's errors about its Config.
var ErrConfig = errors.New("ward: cluster: bad config")

// Config configures Join.
type Config struct {
	// Conn is the node's one connection to NATS (required): every frame
	// the node sends goes over it, which is what keeps order per pair.
	Conn *nats.Conn
	// Cluster names the cluster; its subjects are "ward.<Cluster>." and
	// its buckets "ward_<Cluster>_...". Letters, digits, '-' and '_';
	// default DefaultCluster.
	Cluster string
	// Seed is the node's nkey seed, which signs its frames (it may be the
	// seed of the NATS user the node authenticates as). Nil: a fresh key
	// per Join.
	Seed []byte
	// HeartbeatInterval is how often the node says it is alive; default
	// DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// HeartbeatMisses is how many intervals without a word make a peer
	// down; default DefaultHeartbeatMisses.
	HeartbeatMisses int
	// Grants names the environments remote callers may spawn into on
	// this node. A remote spawn never gets an environment wider than its
	// caller's own.
	Grants map[string]*runtime.Environment
	// Storage is where ward's JetStream buckets live; default
	// jetstream.FileStorage.
	Storage jetstream.StorageType
	// Logger receives the node's events (nodes up and down, dropped
	// frames); default none.
	Logger *slog.Logger

	// attach replaces route.Attach in tests that run with a fake Local
	// and no runtime.
	attach func(node uint16, t route.Transport) (route.Local, error)
}

var clusterName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Conn == nil {
		return c, fmt.Errorf("%w: Config.Conn is nil; connect to NATS (or start cluster/embed) first", ErrConfig)
	}
	if c.Cluster == "" {
		c.Cluster = DefaultCluster
	}
	if !clusterName.MatchString(c.Cluster) {
		return c, fmt.Errorf("%w: cluster name %q: use 1-64 letters, digits, '-' or '_'", ErrConfig, c.Cluster)
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.HeartbeatInterval < time.Millisecond {
		return c, fmt.Errorf("%w: HeartbeatInterval %v is below 1ms", ErrConfig, c.HeartbeatInterval)
	}
	if c.HeartbeatMisses == 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.HeartbeatMisses < 1 {
		return c, fmt.Errorf("%w: HeartbeatMisses %d is below 1", ErrConfig, c.HeartbeatMisses)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// subject returns the cluster's subject for kind ("sig", "hb") and node.
func (c Config) subject(kind string, node uint16) string {
	return fmt.Sprintf("ward.%s.%s.%d", c.Cluster, kind, node)
}

// allSubject matches kind's subjects of every node.
func (c Config) allSubject(kind string) string {
	return fmt.Sprintf("ward.%s.%s.*", c.Cluster, kind)
}

// nodesBucket is the KV bucket of node registrations.
func (c Config) nodesBucket() string { return "ward_" + c.Cluster + "_nodes" }
