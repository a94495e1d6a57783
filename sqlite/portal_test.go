package sqlite_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPortalStore(t *testing.T) {
	storetest.RunPortal(t, func(tb testing.TB) storetest.PortalStore { return MustOpen(tb) })
}
