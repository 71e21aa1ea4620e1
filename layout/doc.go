// Package layout is Stria's file layout model: which OST objects hold which
// bytes of a file, in which mirror. It is pure: no I/O, no clocks, no
// goroutines, no locks. The MDT stores a Layout (encoded by Encode) as the
// file's layout xattr and changes it on layout intents; the client maps
// file ranges to objects with its stripe math; `lfs getstripe` prints it.
// The sub-package qos picks OSTs for new objects.
//
// # The model
//
// A Layout is a list of Components plus a generation (Gen), a Composite
// mark and an FLR State. One model serves Lustre's three layouts:
//
//   - plain (NFL, lov_mds_md): Composite false, exactly one component
//     [0, EOF) with id 0 and mirror 0; getstripe prints it in the plain
//     format (lmm_stripe_count ... obdidx table).
//   - PFL (composite): components over consecutive extents [start, end):
//     the first starts at 0, each next starts where the previous ends, ends
//     strictly increase and are multiples of 64 KiB and of the component's
//     stripe size; the last may end at EOF (math.MaxUint64). Without an EOF
//     component, offsets past the last end are outside the file's layout.
//   - FLR: components grouped into mirrors (MirrorID 1..0x7fff, at most 16
//     mirrors), each mirror a complete PFL layout from 0 to EOF; the file
//     has a State: ro (all in-sync mirrors identical), wp (a primary mirror
//     takes writes, the overlapping components of the others are stale),
//     sp (a resync holds the file).
//
// A Component has an id (lcme_id: unique in the file, never reused;
// (mirror << 16) | seq, where AddComponent takes seq from the generation as
// Lustre does, so 65537 is mirror 1's component added at gen 1), Flags
// (init, stale, prefer, prefrd, prefwr, offline, nosync, extension, ...;
// printed as getstripe does), an Extent and a RAID0 Stripe: pattern (raid0,
// mdt for Data-on-MDT, released), count, size, offset, pool, an optional
// explicit OST list (-o) and, once instantiated, one Object (OST index,
// FID) per stripe.
//
// A directory default is a Layout too (a template): no objects, no FLR
// state, and unset values allowed (count 0, size 0, offset -1), which are
// filled from the root default when a file is created (Effective).
//
// # Invariants (Validate)
//
//   - init <=> instantiated: a RAID0 component with the init flag has
//     exactly Count objects; one without has none. A DoM component has no
//     objects and stripe size == its end, and comes first in its mirror.
//     A released component keeps its count and has no objects.
//   - stripe size: a multiple of 64 KiB, from 64 KiB to 4 GiB - 64 KiB;
//     stripe count -1 or 1..2000 (0 only in templates and for DoM); the
//     count against the number of OSTs is checked separately
//     (CheckOSTCount), when the OSTs are known.
//   - ids unique, matching the mirror; components of a mirror contiguous.
//   - in a mirrored file every offset is held by at least one component
//     that is not stale: stale is never set on the last in-sync mirror.
//
// # Stripe math
//
// RAID0 maps an absolute file offset x (not relative to the component) of
// a component with stripe size S and count C to chunk = x/S, stripe =
// chunk%C, object offset = (chunk/C)*S + x%S (Locate; FileOffset is the
// inverse). Objects of a later PFL component therefore start with a hole.
// Split maps a range of one mirror to per-object chunks in file order
// (holes for uninstantiated components); the client fans them out. An
// object of s bytes implies a file size (FileSize, Lustre's
// lov_stripe_size); the file size is the largest over all objects.
// ObjectSize and TruncateSizes give the inverse: what each object must be
// truncated to for a given file size.
//
// # Changes
//
// At create the MDT instantiates InitialComponents (the first component of
// each mirror); later components are instantiated by layout intents.
// Generation rules follow Lustre: AddComponent bumps Gen once per
// component and derives the id from it (a new 3-component file has gen 3);
// IntentWrite / IntentTrunc (PFL instantiation, FLR ro/sp -> wp with stale
// marking), StartResync, ResyncDone and SetFlags bump it once per call
// that changes the layout. Instantiate alone does not: the caller bumps
// once per operation. Operations that can fail work on a clone and leave
// the layout untouched on error.
//
// # Inheritance
//
// Effective computes a new file's layout from setstripe Options (one per
// -E / -N group), the parent directory's default and the root default:
// the first component takes unset values from the parent default, then the
// root default, then the built-in defaults (count 1, size 4 MiB, offset
// -1); each later component takes count, size and pool from the previous
// one. Template builds a directory default without filling in defaults.
//
// # Encoding
//
// Encode/Decode: versioned little-endian binary, fixed field order (see
// encode.go). Decode never panics, refuses trailing bytes and checks the
// structural rules; FuzzDecode checks decode(encode(x)) == x.
//
// # Pitfalls
//
//   - Locate, FileOffset and FileSize need a concrete geometry (size > 0,
//     count >= 1); calling them on a template component panics. Split
//     checks and returns an error instead.
//   - Layout values are not safe for concurrent mutation; the MDT changes a
//     layout under its object lock and clients replace theirs wholesale.
package layout
