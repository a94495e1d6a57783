package groupcommit

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// TestBatches holds the first write until three more callers have queued,
// and shows the three written together, each told its own result.
func TestBatches(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	var g Group[int]
	g.Write = func(items []int) error {
		mu.Lock()
		batches = append(batches, slices.Clone(items))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release
		}
		if slices.Contains(items, 3) {
			return errors.New("three is refused")
		}
		return nil
	}
	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = g.Do(0) })
	for !queued(&g, 0) || !busy(&g) {
		runtime.Gosched()
	}
	for i := 1; i <= 3; i++ {
		wg.Go(func() { errs[i] = g.Do(i) })
	}
	for !queued(&g, 3) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 3) {
			t.Errorf("item %d: %v", i, err)
		}
	}
	// The batch of three failed for one item, so each was written alone.
	if len(batches) != 5 || len(batches[0]) != 1 || len(batches[1]) != 3 {
		t.Fatalf("batches %v, want [0], then 1-3 together, then each alone", batches)
	}
}

func queued(g *Group[int], n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending) == n
}

func busy(g *Group[int]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy
}

// TestPanic shows a write that panics answered as an error, and the group
// still working after.
func TestPanic(t *testing.T) {
	var g Group[int]
	g.Write = func(items []int) error {
		if items[0] == 1 {
			panic("boom")
		}
		return nil
	}
	if err := g.Do(1); err == nil {
		t.Fatal("a panicking write returned no error")
	}
	if err := g.Do(2); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrent runs many callers at once (under -race in CI) and checks
// that every item is written exactly once.
func TestConcurrent(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var g Group[int]
	g.Write = func(items []int) error {
		mu.Lock()
		defer mu.Unlock()
		for _, i := range items {
			seen[i]++
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := g.Do(i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 200 {
		if seen[i] != 1 {
			t.Fatalf("item %d written %d times", i, seen[i])
		}
	}
}
