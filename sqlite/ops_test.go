package sqlite_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestOps(t *testing.T) {
	storetest.RunOps(t, func(tb testing.TB) storetest.OpsStore { return MustOpen(tb) })
}
