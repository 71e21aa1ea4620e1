// Package qos picks the OSTs that a new stripe set's objects go to, as
// Lustre's LOD allocator does (lod_qos.c), in a pure, deterministic form:
// the caller passes the OSTs' state (from statfs), the stripe count, the
// starting OST, the pool and a RoundRobin state; Pick returns OST indexes
// in stripe order.
//
// Policy:
//
//   - Candidates are the OSTs of the pool (all OSTs without a pool) that are
//     available (Avail) and not full (free space below 0.1% of the size, or
//     none). An explicit starting OST must exist in the pool, but may be
//     unavailable: allocation then starts at the next usable one.
//   - With a starting OST (offset >= 0), the candidates from it onwards in
//     index order are taken (wrapping); the round-robin state is untouched.
//   - Otherwise, while the candidates are balanced (the least free space is
//     within ThresholdRR, default 17%, of the most), OSTs are taken
//     round-robin, one OST of each server (OST.Server) in turn and each
//     server's in index order, each allocation starting where the last
//     one ended, the very first at a random OST, with a one-step
//     precession after a wrap so files do not keep the same OST groups.
//   - When imbalanced, OSTs are drawn at random without repeats, each draw
//     weighted by free space, so emptier OSTs fill faster.
//   - Count -1 takes every candidate (in round-robin order). Pick wants the
//     full count; PickMin accepts fewer, down to a minimum (the MDS allows
//     a quarter fewer stripes for default striping).
//
// Randomness comes from RoundRobin.Rand, so tests are deterministic with a
// seeded source. RoundRobin holds its own mutex; Pick may be called from
// many goroutines. Overstriping (several stripes per OST) is not supported.
package qos
