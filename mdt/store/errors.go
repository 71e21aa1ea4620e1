package store

import "errors"

// Sentinel errors of the store. Callers test them with errors.Is; the store
// wraps them with %w and the key or path they concern.
var (
	// ErrNotFound: the record asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrNotFormatted: Open was given a file that holds no formatted target.
	ErrNotFormatted = errors.New("store: not formatted")
	// ErrFormatted: Format was given a formatted target without Reformat.
	ErrFormatted = errors.New("store: already formatted")
	// ErrNewerVersion: the file was written by a newer storage version than
	// this code knows; it is refused rather than misread.
	ErrNewerVersion = errors.New("store: storage version newer than this software")
	// ErrMigration: an older storage version could not be migrated.
	ErrMigration = errors.New("store: migration failed")
	// ErrCorrupt: a stored record or key does not decode.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrLocked: another process (or another Store in this one) holds the file.
	ErrLocked = errors.New("store: file in use")
	// ErrReadOnly: a write was attempted in a read-only (View) transaction.
	ErrReadOnly = errors.New("store: write in read-only transaction")
	// ErrCommit: the group transaction failed to commit; no operation of the
	// group took effect.
	ErrCommit = errors.New("store: commit failed")
	// ErrBadLabel: a target label is malformed.
	ErrBadLabel = errors.New("store: bad label")
	// ErrBadKey: a name or client UUID cannot be used as part of a key.
	ErrBadKey = errors.New("store: bad key")
	// ErrNoSequence: this MDT holds no sequence range to allocate from; it
	// must be granted one by the sequence controller on MDT0000.
	ErrNoSequence = errors.New("store: no FID sequence available")
	// ErrNotController: sequence grants are asked of a target that is not
	// the sequence controller (MDT0000).
	ErrNotController = errors.New("store: not the sequence controller")
	// ErrOverlap: an FLD range overlaps one already recorded.
	ErrOverlap = errors.New("store: FLD range overlaps")
	// ErrInvariant: Check found a broken invariant.
	ErrInvariant = errors.New("store: invariant broken")
)
