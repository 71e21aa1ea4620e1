// Package wire is Stria's on-wire vocabulary: the message envelope every
// request and reply carries, opcodes, portals, connect flags, the errno
// table, the FID, and a small codec toolkit that typed bodies are written
// with. It is pure encode/decode: no I/O, no goroutines, no state.
//
// # Conventions
//
// Everything on the wire is little-endian, in a fixed field order, with no
// implicit padding. A message is an envelope (Msg, MsgSize bytes, modelled on
// Lustre's lustre_msg_v2 + ptlrpc_body) followed by one body of BodyLen
// bytes. The envelope starts with MsgMagic and MsgVersion; a decoder rejects
// any other magic or version, an unknown message type, a non-zero reserved
// field and a body length that does not match the bytes received. Changing
// the envelope or the field order of any body bumps MsgVersion.
//
// Bodies are Go structs implementing Body: Encode appends their fields to an
// Encoder, Decode reads them back from a Decoder. The Decoder's errors are
// sticky (read every field, check once), bounds-checked (a short input is
// ErrShort, never a panic), and length prefixes are checked against the
// input before anything is allocated (Count, Bytes32, String with a limit).
// DecodeBody insists that a body is consumed exactly. Every decoder of bytes
// from the network has a go test -fuzz target whose seed corpus runs in a
// plain go test; packages adding bodies add a fuzz target beside them.
//
// Encoding writes into a caller's buffer: ptlrpc reserves MsgSize bytes at
// the front of a pooled buffer, appends the body with an Encoder and calls
// Msg.Seal; Msg.Decode returns the body as a sub-slice of its input and does
// not allocate.
//
// # Errors on the wire
//
// Go errors cross the wire only as an Errno (a positive Linux errno in
// Msg.Status), through one translation on each side. A server maps its
// handler's error with ErrnoOf (syscall.Errno in the chain, io/fs sentinels,
// context errors, decoding errors → EPROTO, else EIO) or with an ErrnoTable,
// an explicit list of sentinel → errno pairs that the server builds and hands
// to its service; nothing registers itself globally. A client turns the
// status back into an error with Errno.Err: a *RemoteError that matches both
// errors.Is(err, syscall.ENOENT) and errors.Is(err, ErrRemote).
//
// # Numbers
//
// Opcodes, portals, message types, message flags and connect flags use
// Lustre's values (lustre_idl.h) where Lustre has them, so traces and
// statistics read like Lustre's; Opcode.String gives Lustre's statistics
// names ("ost_write"). Times in the envelope are milliseconds (Lustre uses
// seconds), so tests can run with short timeouts.
package wire
