package lndtest

import (
	"net"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

// MaxNodes is how many nodes the suite starts at most: nodes 0..MaxNodes-1.
// NIDs of nodes MaxNodes..2*MaxNodes-1 are never started; the suite uses them
// as peers that do not exist and as the identities of raw connections.
const MaxNodes = 8

// Harness starts NIs of the LND under test.
type Harness interface {
	// NID returns node i's NID, for 0 <= i < 2*MaxNodes, started or not. All
	// nodes are on one network.
	NID(i int) lnet.NID
	// Start starts node i's NI, delivering to host, and arranges for it to be
	// closed when t ends (t.Cleanup; the suite may close it earlier, so Close
	// must be idempotent). Starting a node whose previous NI has been closed
	// restarts it: the same NID with a new incarnation.
	Start(t *testing.T, i int, host lnet.Host) lnet.NI
}

// RawConnector is implemented by harnesses of stream LNDs, so that the
// suite can feed an NI bytes no well-behaved peer would send.
type RawConnector interface {
	// DialRaw opens a byte stream to node i's NI.
	DialRaw(t *testing.T, i int) net.Conn
	// Handshake introduces c's far end to node i as from and returns once
	// node i has accepted it; frames may follow.
	Handshake(t *testing.T, c net.Conn, i int, from lnet.NID) error
	// Frame returns the bytes that carry one message on an established stream.
	Frame(hdr lnet.Header, payload []byte) []byte
}

// Killer is implemented by harnesses that can end node i's NI more abruptly
// than Close (as a crashed process would); without it the suite uses Close.
type Killer interface {
	Kill(t *testing.T, i int, ni lnet.NI)
}
