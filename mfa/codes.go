package mfa

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// Limits on codes sent by e-mail or SMS (SPEC §4).
const (
	// CodeTTL is how long a sent code stays valid.
	CodeTTL = 10 * time.Minute
	// ResendGap is the least time between two sends to a user on one
	// channel while the last code is unused.
	ResendGap = 60 * time.Second
	// DailyCodeCap is the most codes sent to a user on one channel within
	// CodeWindow, so the server cannot be used to flood a phone or mailbox,
	// or to run up the workspace's Twilio bill.
	DailyCodeCap = 10
	// CodeWindow is the window DailyCodeCap counts over.
	CodeWindow = 24 * time.Hour
)

// codeSpace is the number of 6-digit codes.
const codeSpace = 1_000_000

// codeLimit is the largest multiple of codeSpace that fits in a uint32.
// Random values at or above it are drawn again: taking every uint32 modulo
// a million would make codes below 967296 slightly likelier than the rest.
const codeLimit = (1 << 32) / codeSpace * codeSpace

// NewCode returns a random 6-digit code, leading zeros included, each of the
// million codes equally likely. Store only its MAC (see package secret).
func NewCode() string {
	var b [4]byte
	for {
		// crypto/rand.Read never returns an error: it crashes the program
		// if the system's randomness fails, rather than sending a
		// guessable code.
		rand.Read(b[:])
		// Rejection happens with probability 967296/2^32, about 0.02%.
		if n := binary.BigEndian.Uint32(b[:]); n < codeLimit {
			return fmt.Sprintf("%06d", n%codeSpace)
		}
	}
}
