package postgres_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestOps(t *testing.T) {
	databaseURL(t)
	storetest.RunOps(t, func(tb testing.TB) storetest.OpsStore { return mustOpen(tb) })
}
