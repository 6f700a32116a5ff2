package riskwatch

import "errors"

// Error kinds that callers act on. Wrap them with context and %w; check them
// with errors.Is.
var (
	// ErrInvalid marks bad input: reject it (the pipeline quarantines it),
	// never retry it.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound marks a lookup of something that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a change that lost a race with another change.
	ErrConflict = errors.New("conflict")
	// ErrForbidden marks a request outside the caller's rights.
	ErrForbidden = errors.New("forbidden")
)
