// Package groupcommit writes small records that arrive at the same time in
// one transaction instead of one each, while every caller still returns
// only once its own record is committed.
//
// A download commits an audit event before its bytes are sent; sixteen
// downloads at once made sixteen commits, each rewriting the same few
// index pages (and, on PostgreSQL, each waiting for its own WAL flush).
// With a Group the first caller writes at once; those that arrive while it
// writes queue, and the next of them writes the whole queue in one
// transaction. Nobody waits for a timer: a lone caller writes alone.
package groupcommit

import (
	"errors"
	"fmt"
	"sync"
)

// Group queues records of type T for its write function.
type Group[T any] struct {
	// Write stores items in one transaction: all of them, or none and an
	// error. When a batch of several fails, each item is written again on
	// its own, so one bad record does not fail the others.
	Write func(items []T) error

	mu      sync.Mutex
	busy    bool // a caller is writing a batch
	pending []*call[T]
}

type call[T any] struct {
	item T
	done chan error // its result, or errLead: write the queue
}

// errLead tells a queued caller that the writer finished and the queue is
// its to write.
var errLead = errors.New("groupcommit: lead")

// Do stores item, with whatever else is queued, and returns once it is
// committed (or failed).
func (g *Group[T]) Do(item T) error {
	c := &call[T]{item: item, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		if err := <-c.done; err != errLead {
			return err
		}
	}
	// This caller writes the queue, its own item among it.
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	var own error
	for i, err := range g.write(batch) {
		if batch[i] == c {
			own = err
		} else {
			batch[i].done <- err
		}
	}
	// Hand the queue that formed meanwhile to its first caller, who writes
	// it as a batch; or stand down.
	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].done <- errLead
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return own
}

// write stores the batch, and each item alone when the batch fails.
func (g *Group[T]) write(batch []*call[T]) []error {
	errs := make([]error, len(batch))
	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	err := g.try(items)
	if err == nil || len(batch) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range items {
		errs[i] = g.try(items[i : i+1])
	}
	return errs
}

// try runs Write, turning a panic into an error: the callers queued behind
// this one must get an answer, and the queue a next writer.
func (g *Group[T]) try(items []T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("groupcommit: write panicked: %v", p)
		}
	}()
	return g.Write(items)
}
