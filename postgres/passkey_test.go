package postgres_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPasskeyStore(t *testing.T) {
	databaseURL(t)
	storetest.RunPasskeys(t, func(tb testing.TB) storetest.PasskeyStore { return mustOpen(tb) })
}
