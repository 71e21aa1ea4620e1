// Package lod instantiates file layouts on an MDT (Lustre's lod layer):
// it computes a new file's layout from the request's template, the parent
// directory's default and the file system default (Effective), picks OSTs
// for each stripe set with layout/qos, and takes one precreated object per
// stripe from the OST proxies (mdt/osp) — no OST round trip while their
// pools hold objects.
//
// # Effective layout
//
// A new file's layout is, in order: the explicit template of the request
// (`lfs setstripe FILE`), else the parent directory's default, else the
// root's (the file system default), else the built-in default (one
// stripe of 4 MiB, any OST). The first component takes what the template
// leaves unset from the parent's default, then the root's, then the
// built-in values (layout.Effective does the filling; with an explicit
// template and a parent default, the parent default is first completed
// from the root's). The result is checked against the number of OSTs the
// file system has: a stripe count above it, or an offset or OST list
// naming an OST that does not exist, is ErrInvalid (EINVAL) and nothing is
// allocated.
//
// # Allocation
//
// Instantiate gives objects to the components it is told (at create,
// layout.InitialComponents: the first of each mirror; later ones through
// layout intents). For each RAID0 component qos.PickMin chooses up to
// count OSTs among the available ones (count -1: all of them; fewer when
// fewer are available, as Lustre stripes over what it has), honouring the
// offset and the pool; an explicit OST list is used as given. If an OST
// cannot hand out an object in time, its objects taken so far go back and
// the pick is redone without it. When no OST is available yet because
// their proxies have not reached them since the MDT started, Instantiate
// waits for the first of them, at most Config.ReadyTimeout. A create that
// fails after allocation gives its objects back with Release.
//
// # Locks
//
// LOD.mu guards the OST table; it is never held across an allocation. The
// round-robin state (qos.RoundRobin) has its own lock.
package lod
