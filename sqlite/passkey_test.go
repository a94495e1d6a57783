package sqlite_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPasskeyStore(t *testing.T) {
	storetest.RunPasskeys(t, func(tb testing.TB) storetest.PasskeyStore { return MustOpen(tb) })
}
