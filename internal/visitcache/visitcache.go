// Package visitcache keeps the visits a store's FindVisit read, and the
// client spaces its ReadSpace read, for as long as the store can tell that
// nothing they hold has changed (SPEC §11). The store decides how it tells
// (SQLite: the wal-index header, or PRAGMA data_version, before each
// lookup; PostgreSQL: LISTEN/NOTIFY on a connection of its own) and tells
// the cache by emptying it, dropping entries or turning it off. Visits and
// spaces share the switch and the generation: whatever stops one serving
// stops the other.
package visitcache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// Max bounds the cache; past it, visits are read but not kept until the
// next change makes room.
const Max = 10000

// Key names a visit: the session's workspace and token hash.
type Key struct {
	WorkspaceID int64
	Hash        [32]byte
}

// MaxSpaceBytes bounds the spaces kept, by Space.Size; when a new one
// does not fit, the kept spaces are all dropped and the cache fills again.
const MaxSpaceBytes = 32 << 20

// SpaceKey names a space as read for one user: a space holds that user's
// read mark, so no user is ever served another's, and the workspace and
// client are part of every key.
type SpaceKey struct {
	WorkspaceID, ClientID, UserID int64
	Documents, Messages           int
}

// Cache is a map of visits and one of spaces with a generation that every
// change bumps: an entry read from the database may be put only under the
// generation it got before the read, so a read racing a change is never
// kept. It starts off.
type Cache struct {
	mu  sync.Mutex
	on  bool
	gen uint64
	// until, when not zero, is when the cache stops serving unless renewed
	// (see Renew).
	until      time.Time
	m          map[Key]*gatehouse.Visit
	spaces     map[SpaceKey]*portal.Space
	spaceBytes int

	hits, misses           uint64 // for tests
	spaceHits, spaceMisses uint64
}

// New returns an empty cache, off.
func New() *Cache {
	return &Cache{m: map[Key]*gatehouse.Visit{}, spaces: map[SpaceKey]*portal.Space{}}
}

// Find serves FindVisit through the cache: a copy of the kept visit, else
// read's visit, kept when the cache is on and nothing changed meanwhile.
// A token hash that is not 32 bytes is read and not kept.
func (c *Cache) Find(ctx context.Context, workspaceID int64, tokenHash []byte,
	read func(context.Context, int64, []byte) (*gatehouse.Visit, error)) (*gatehouse.Visit, error) {
	if len(tokenHash) != 32 {
		return read(ctx, workspaceID, tokenHash)
	}
	k := Key{WorkspaceID: workspaceID, Hash: [32]byte(tokenHash)}
	v, gen, ok := c.get(k)
	if v != nil {
		return v, nil
	}
	v, err := read(ctx, workspaceID, tokenHash)
	if err == nil && ok {
		c.put(k, gen, v)
	}
	return v, err
}

// get returns a copy of the kept visit, or nil and the generation under
// which a visit read now may be put; ok is false when the cache is off.
func (c *Cache) get(k Key) (v *gatehouse.Visit, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.serving() {
		return nil, 0, false
	}
	if v := c.m[k]; v != nil {
		c.hits++
		return Clone(v), c.gen, true
	}
	c.misses++
	return nil, c.gen, true
}

// serving reports whether the cache may serve now. c.mu is held.
func (c *Cache) serving() bool {
	if !c.on {
		return false
	}
	if !c.until.IsZero() && !time.Now().Before(c.until) {
		// The store stopped renewing: it can no longer tell whether
		// anything changed.
		c.turnOff()
		return false
	}
	return true
}

// put keeps a copy of v, read after get returned gen, unless the cache
// changed since.
func (c *Cache) put(k Key, gen uint64, v *gatehouse.Visit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.on || len(c.m) >= Max {
		return
	}
	c.m[k] = Clone(v)
}

// Empty drops every kept visit.
func (c *Cache) Empty() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.empty()
}

func (c *Cache) empty() {
	c.gen++
	clear(c.m)
	clear(c.spaces)
	c.spaceBytes = 0
}

// Drop drops the kept visits match reports; any visit or space being read
// while Drop runs is not kept either.
func (c *Cache) Drop(match func(*gatehouse.Visit) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, v := range c.m {
		if match(v) {
			delete(c.m, k)
		}
	}
}

// FindSpace serves ReadSpace through the cache, as Find serves visits: the
// kept space, else read's, kept when the cache is on and nothing changed
// meanwhile. The space is not copied: every reader of the key gets the
// same one, which nobody may change (see portal.Store.ReadSpace), so a hit
// costs the same whatever the space holds.
func (c *Cache) FindSpace(ctx context.Context, k SpaceKey, read func(context.Context) (*portal.Space, error)) (*portal.Space, error) {
	c.mu.Lock()
	serving := c.serving()
	var kept *portal.Space
	if serving {
		if kept = c.spaces[k]; kept != nil {
			c.spaceHits++
		} else {
			c.spaceMisses++
		}
	}
	gen := c.gen
	c.mu.Unlock()
	if kept != nil {
		return kept, nil
	}
	sp, err := read(ctx)
	if err != nil || !serving {
		return sp, err
	}
	keep := sp
	size := keep.Size()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.on || size > MaxSpaceBytes {
		return sp, nil
	}
	if c.spaceBytes+size > MaxSpaceBytes {
		clear(c.spaces)
		c.spaceBytes = 0
	}
	if old := c.spaces[k]; old != nil {
		c.spaceBytes -= old.Size()
	}
	c.spaces[k] = keep
	c.spaceBytes += size
	return sp, nil
}

// DropSpaces drops the kept spaces match reports; any visit or space being
// read while DropSpaces runs is not kept either.
func (c *Cache) DropSpaces(match func(SpaceKey) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, sp := range c.spaces {
		if match(k) {
			c.spaceBytes -= sp.Size()
			delete(c.spaces, k)
		}
	}
}

// SetOn turns the cache on (serving until it is turned off) or off;
// either way it is emptied.
func (c *Cache) SetOn(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.empty()
	c.on, c.until = on, time.Time{}
}

// Renew keeps the cache serving until the wall-clock deadline until, and
// turns it on (empty) if it was off. A store that learns of changes by
// messages renews after each proof that every message sent so far has
// arrived; when the proofs stop, so does the cache. The deadline is the
// process's own clock, not the injected one: it measures how long the
// store has been unable to tell, not a time the domain decides by.
func (c *Cache) Renew(until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		c.empty()
		c.on = true
	}
	c.until = until
}

// TurnOff empties the cache and stops it serving until turned on again.
func (c *Cache) TurnOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.turnOff()
}

func (c *Cache) turnOff() {
	c.empty()
	c.on, c.until = false, time.Time{}
}

// On reports whether the cache serves now.
func (c *Cache) On() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serving()
}

// Stats reports the hits and misses so far, for tests.
func (c *Cache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// SpaceStats reports the spaces served from memory and read so far, for
// tests and benchmarks.
func (c *Cache) SpaceStats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spaceHits, c.spaceMisses
}

// Clone returns a deep copy of v: callers change the visit they get (the
// last-seen time after a touch, for one), and a change must never reach
// the cached copy or another request's. It copies field by field, with no
// reflection (it runs on every signed-in request); TestCloneSharesNothing
// fills every field by reflection, so a reference field added to Session,
// User or Workspace later and not copied here fails it.
func Clone(v *gatehouse.Visit) *gatehouse.Visit {
	out := *v
	s := &out.Session
	s.TokenHash = slices.Clone(s.TokenHash)
	s.MFAVerifiedAt = clonePtr(s.MFAVerifiedAt)
	s.MailboxProvenAt = clonePtr(s.MailboxProvenAt)
	s.EnrollSkippedAt = clonePtr(s.EnrollSkippedAt)
	w := &out.Workspace
	w.MFA.Methods = slices.Clone(w.MFA.Methods)
	w.Twilio.AuthToken = slices.Clone(w.Twilio.AuthToken)
	w.SMSGuard.Countries = slices.Clone(w.SMSGuard.Countries)
	out.Methods = slices.Clone(out.Methods)
	return &out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
