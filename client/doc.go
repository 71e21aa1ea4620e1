// Package client is Stria's client library, without FUSE: it fetches the
// configuration from the MGS (mgc), sends metadata operations to the MDTs
// (lmv, mdc), and reads and writes file data striped over the OSTs (lov,
// osc). It works on FIDs and returns Go errors wrapping syscall errnos;
// client/fusefs turns it into a mount.
package client
