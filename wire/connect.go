package wire

// ConnectFlags are the features a client asks for and a server grants at
// connect (Lustre's OBD_CONNECT_* bit values).
type ConnectFlags uint64

// Connect flags Stria uses.
const (
	ConnectRDOnly     ConnectFlags = 0x1
	ConnectIndex      ConnectFlags = 0x2
	ConnectMDS        ConnectFlags = 0x4 // connection from an MDT to an OST
	ConnectGrant      ConnectFlags = 0x8
	ConnectSrvLock    ConnectFlags = 0x10
	ConnectVersion    ConnectFlags = 0x20
	ConnectACL        ConnectFlags = 0x80
	ConnectXattr      ConnectFlags = 0x100
	ConnectTransno    ConnectFlags = 0x800
	ConnectIBits      ConnectFlags = 0x1000
	ConnectBRWSize    ConnectFlags = 0x40000
	ConnectAT         ConnectFlags = 0x1000000 // adaptive timeouts
	ConnectMDSMDS     ConnectFlags = 0x4000000
	ConnectCksum      ConnectFlags = 0x20000000
	ConnectFID        ConnectFlags = 0x40000000
	ConnectVBR        ConnectFlags = 0x80000000
	ConnectFull20     ConnectFlags = 0x1000000000
	ConnectLayoutLock ConnectFlags = 0x2000000000
	Connect64BitHash  ConnectFlags = 0x4000000000
	ConnectJobStats   ConnectFlags = 0x20000000000
	ConnectPingless   ConnectFlags = 0x4000000000000
	ConnectFlockDead  ConnectFlags = 0x8000000000000
	ConnectDirStripe  ConnectFlags = 0x400000000000000
	ConnectBulkMBits  ConnectFlags = 0x2000000000000000
)

// MaxNameLen bounds the strings of connect bodies (UUIDs, target names).
const MaxNameLen = 256

// ConnectRequest is the body of MDS_CONNECT, OST_CONNECT and MGS_CONNECT.
type ConnectRequest struct {
	// Target names the target the client wants ("lustre-OST0001").
	Target string
	// ClientUUID identifies the client across reconnects; the server keys
	// the export by it.
	ClientUUID string
	Flags      ConnectFlags
	// Handle is the export handle of the previous connection (0 the first
	// time): a reconnect that presents it keeps its export.
	Handle uint64
	// Incarnation is the server incarnation the client last saw (0 if
	// none).
	Incarnation uint64
}

// Encode implements Body.
func (c *ConnectRequest) Encode(e *Encoder) {
	e.String(c.Target)
	e.String(c.ClientUUID)
	e.U64(uint64(c.Flags))
	e.U64(c.Handle)
	e.U64(c.Incarnation)
}

// Decode implements Body.
func (c *ConnectRequest) Decode(d *Decoder) {
	c.Target = d.String(MaxNameLen)
	c.ClientUUID = d.String(MaxNameLen)
	c.Flags = ConnectFlags(d.U64())
	c.Handle = d.U64()
	c.Incarnation = d.U64()
	if d.Err() == nil && c.ClientUUID == "" {
		d.Fail("connect without client UUID")
	}
}

// ConnectReply is the body of a successful connect reply. The envelope
// carries ConnectRecovering / ConnectReconnect / ConnectReplayable in OpFlags.
type ConnectReply struct {
	// Handle is the export's cookie; every later request carries it.
	Handle uint64
	// ConnCnt is the export's connection generation: it grows by one at
	// every connect, and requests sent under an older one are stale.
	ConnCnt uint32
	Flags   ConnectFlags
	// Incarnation changes every time the target starts: a client that sees
	// a new one replays its uncommitted requests.
	Incarnation   uint64
	LastCommitted uint64
	// TargetUUID names the target that answered.
	TargetUUID string
}

// Encode implements Body.
func (c *ConnectReply) Encode(e *Encoder) {
	e.U64(c.Handle)
	e.U32(c.ConnCnt)
	e.U64(uint64(c.Flags))
	e.U64(c.Incarnation)
	e.U64(c.LastCommitted)
	e.String(c.TargetUUID)
}

// Decode implements Body.
func (c *ConnectReply) Decode(d *Decoder) {
	c.Handle = d.U64()
	c.ConnCnt = d.U32()
	c.Flags = ConnectFlags(d.U64())
	c.Incarnation = d.U64()
	c.LastCommitted = d.U64()
	c.TargetUUID = d.String(MaxNameLen)
}

// PingRequest is the body of OBD_PING: empty, as Lustre's. The reply's
// envelope carries last_committed, which is what a ping is for besides
// liveness.
type PingRequest struct{}

// Encode implements Body.
func (*PingRequest) Encode(*Encoder) {}

// Decode implements Body.
func (*PingRequest) Decode(*Decoder) {}
