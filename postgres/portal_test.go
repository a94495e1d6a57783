package postgres_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPortalStore(t *testing.T) {
	databaseURL(t)
	storetest.RunPortal(t, func(tb testing.TB) storetest.PortalStore { return mustOpen(tb) })
}
