package postgres_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

// BenchmarkReadSpace: see storetest.BenchReadSpace.
func BenchmarkReadSpace(b *testing.B) {
	databaseURL(b)
	storetest.BenchReadSpace(b, func(tb testing.TB) storetest.PortalStore { return mustOpen(tb) })
}
