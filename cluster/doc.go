// Package cluster joins ward runtimes into a cluster over NATS: each
// runtime becomes a node, process ids name their node, and sends, links,
// monitors, kills and exists on another node's processes travel as signed
// frames on NATS subjects.
//
// A node is a *runtime.Runtime plus a *nats.Conn: Join registers the node
// in a JetStream KV bucket (which hands out its number atomically and
// publishes its public key), attaches the runtime to the cluster's
// transport, and starts heartbeats. Leave says goodbye, so peers see the
// node go at once.
//
// What is promised:
//   - Order per sender-receiver pair, as in Erlang: every frame from one
//     node to another goes over the sender's one connection to the
//     receiver's one subject, numbered; a gap ends the session. Frames
//     that queue while earlier ones are published go as one NATS message
//     (a batch, batch.go), still applied one by one in order.
//   - Failure detection: a node not heard for HeartbeatMisses heartbeat
//     intervals is down (found within a quarter interval after that);
//     then every link to its processes fires noconnection, every monitor
//     DOWN noconnection, node monitors get a node-down message and pending
//     calls fail. A bye, a sequence gap, a slow consumer and the node's own
//     disconnect end sessions the same way. Both sides fire: a frame of an
//     ended session is answered with a reset.
//   - Identity: a node registers its nkey and, signed with it, an X25519
//     key; frames between two nodes carry an HMAC under keys only those
//     two can derive (bound to both node numbers and Joins; one HMAC
//     covers a batch), heartbeats a
//     signature of the nkey. Frames from unknown nodes, old epochs, other
//     sessions, replays and bad MACs or signatures are dropped and counted
//     in Stats.
//
// What is not: exactly-once delivery (a message in flight when its session
// ends is lost, as in Erlang) and protection from whoever may write the
// node bucket: the bus must let only nodes use JetStream (cluster/embed
// does so).
//
// The NATS server may be a production cluster, or an embedded one for a
// single machine and tests (package cluster/embed).
package cluster
